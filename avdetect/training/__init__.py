"""Corpus building, augmentation, training loops and metrics (not needed at scan time)."""
