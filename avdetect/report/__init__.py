"""Report writers: JSON (the contract in DESIGN.md) and text."""

from .json_report import build_report, error_report, timeline
from .text import format_text

__all__ = ["build_report", "error_report", "timeline", "format_text"]
