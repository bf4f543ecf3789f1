"""nn.Modules and their config dataclasses. Models take tensors, never paths."""
