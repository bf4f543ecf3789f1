"""Validate every report the test suite produces against avdetect's JSON Schema.

install() wraps Report.to_dict so each report is checked where it is made: in the pytest process
(conftest.py) and in every Python process the tests start (CLI subprocesses, batch workers:
sitecustomize.py here, on their PYTHONPATH). Each check appends a line to $AVDETECT_TEST_REPORT_LOG
("ok" or the error and the report) and an invalid report raises; conftest.py fails the session
when the log holds an invalid one (in case a caller swallowed the exception).
"""

from __future__ import annotations

import json
import os

LOG_ENV = "AVDETECT_TEST_REPORT_LOG"


def validate(report: dict) -> None:
    """Raise jsonschema.ValidationError unless report follows avdetect/report/report.schema.json."""
    import jsonschema

    from avdetect.report.schema import report_schema

    jsonschema.Draft202012Validator(report_schema()).validate(report)


def _log(line: dict) -> None:
    path = os.environ.get(LOG_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(line, default=str) + "\n")


def install() -> None:
    """Wrap Report.to_dict (once per process)."""
    from avdetect.report.json_report import Report

    if getattr(Report.to_dict, "validated", False):
        return
    plain = Report.to_dict

    def to_dict(self):
        out = plain(self)
        try:
            validate(out)
        except Exception as e:  # noqa: BLE001 - log, then fail where the report was made
            _log({"invalid": str(e).splitlines()[0], "pid": os.getpid(), "report": out})
            raise
        _log({"ok": out.get("verdict")})
        return out

    to_dict.validated = True
    Report.to_dict = to_dict


def read_log(path: str) -> tuple[int, list[dict]]:
    """-> (valid reports, invalid entries) logged so far."""
    ok, bad = 0, []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    d = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if "invalid" in d:
                    bad.append(d)
                else:
                    ok += 1
    return ok, bad
