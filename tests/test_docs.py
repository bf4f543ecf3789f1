"""The documentation's relative links point at files (and headings) that exist; README limits."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README_MAX_LINES = 150
CI_TEST_COMMAND = ('python3 -m venv .venv && .venv/bin/pip install -q -e ".[dev]" '
                   '&& .venv/bin/python -m pytest -q')
LINK = re.compile(r"!?\[[^\]]*\]\(\s*([^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"`[^`]*`")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
EXTERNAL = ("http://", "https://", "mailto:")


def doc_files(root: Path = ROOT) -> list[Path]:
    """README.md, docs/*.md and models/*.md under root."""
    return sorted([root / "README.md", *(root / "docs").glob("*.md"), *(root / "models").glob("*.md")])


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code spans blanked."""
    out, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            out.append(CODE_SPAN.sub("", line))
    return out


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a markdown file (repeated headings get -1, -2, ... as on GitHub)."""
    seen: dict[str, int] = {}
    out = set()
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        m = None if fenced else HEADING.match(line)
        if m:
            s = slug(m.group(2))
            n = seen.get(s, 0)
            seen[s] = n + 1
            out.add(s if n == 0 else f"{s}-{n}")
    return out


def broken_links(path: Path) -> list[str]:
    """'file: target (why)' for each relative link of a markdown file that does not resolve."""
    bad = []
    for line in prose_lines(path.read_text(encoding="utf-8")):
        for target in LINK.findall(line):
            if target.startswith(EXTERNAL):
                continue
            file_part, _, anchor = target.partition("#")
            dest = (path.parent / file_part).resolve() if file_part else path
            if not dest.exists():
                bad.append(f"{path.name}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                bad.append(f"{path.name}: {target} (no such heading)")
    return bad


def test_every_relative_link_resolves():
    files = doc_files()
    assert len(files) >= 5, files
    bad = [b for f in files for b in broken_links(f)]
    assert not bad, "\n".join(bad)


def test_the_link_check_finds_broken_links(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "models").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# Title\n\n## Second part\n")
    (tmp_path / "README.md").write_text(
        "[ok](docs/a.md) [ok](docs/a.md#second-part) [web](https://example.org/x)\n"
        "`[not a link](missing.md)`\n```\n[in code](missing.md)\n```\n"
        "[gone](docs/missing.md) [bad anchor](docs/a.md#third-part)\n")
    bad = broken_links(tmp_path / "README.md")
    assert bad == ["README.md: docs/missing.md (no such file)",
                   "README.md: docs/a.md#third-part (no such heading)"]


def test_slug_matches_github():
    assert slug("4. Voice (spoof) model: status, comparison with 0.1.0, model selection") == \
        "4-voice-spoof-model-status-comparison-with-010-model-selection"
    assert slug("6. Voice (spoof) model: experiments A–O and probes J–O") == \
        "6-voice-spoof-model-experiments-ao-and-probes-jo"


def test_readme_is_short_and_keeps_the_ci_test_command():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_MAX_LINES
    assert CI_TEST_COMMAND in text
