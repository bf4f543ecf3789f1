"""Neural networks and their config dataclasses (models receive tensors, never paths)."""
