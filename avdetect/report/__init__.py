"""Report writers: JSON (the contract in DESIGN.md) and text."""

from .json_report import build_report, error_report, timeline  # noqa: F401
from .text import format_text  # noqa: F401
