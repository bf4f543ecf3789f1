"""avdetect: detect audio-visual deepfakes (lip-sync forgeries, synthetic or cloned voices).

    import avdetect
    detector = avdetect.load()            # every model loaded once
    report = detector.scan("clip.mp4")    # avdetect.Report; .to_dict() is the JSON report
    avdetect.scan("clip.mp4")             # the one-line shortcut
"""

__version__ = "0.1.0"

_API = {"load": "detector", "scan": "detector", "Detector": "detector", "Report": "report"}


def __getattr__(name: str):
    """The API names load lazily, so `import avdetect` (and the CLI's start) stays light."""
    if name in _API:
        import importlib

        return getattr(importlib.import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module 'avdetect' has no attribute {name!r}")


__all__ = ["Detector", "Report", "load", "scan", "__version__"]
