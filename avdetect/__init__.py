"""avdetect: detect audio-visual deepfakes (lip-sync forgeries, synthetic or cloned voices)."""

__version__ = "0.1.0"
