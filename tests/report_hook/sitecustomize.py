"""Started by Python in every process the tests launch (this folder is on their PYTHONPATH):
check every report against the schema (report_validation.py)."""

import os

if os.environ.get("AVDETECT_TEST_REPORT_LOG"):
    try:
        from report_validation import install

        install()
    except ImportError:  # avdetect not importable in this process (e.g. a tool's own Python)
        pass
