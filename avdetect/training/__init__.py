"""Training utilities: corpora, negatives, training loops, evaluation metrics."""
