"""Neural networks and their config dataclasses (models receive tensors, never paths).

Saving and loading weights, and where the shipped ones live: avdetect.models.store.
"""
