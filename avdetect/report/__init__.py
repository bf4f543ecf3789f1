"""Report writers: the typed report and its JSON (the contract in docs/report.md and report.schema.json),
its summary sentence, text, HTML and PDF evidence reports."""

from .json_report import Report, build_report, error_report, timeline
from .text import format_text

__all__ = ["Report", "build_report", "error_report", "timeline", "format_text"]
