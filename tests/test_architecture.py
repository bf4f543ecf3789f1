"""The shape of the code: the docs' toy check runs, no import cycle, scan-time code without training."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from avdetect import synth

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "avdetect"


def _doc_code(name: str) -> list[str]:
    text = (ROOT / "docs" / name).read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_the_toy_check_of_the_architecture_doc_runs(tmp_path, correlation_detector):
    blocks = _doc_code("architecture.md")
    toy = next(b for b in blocks if "class ClippingCheck" in b)
    ns: dict = {}
    exec(compile(toy, "docs/architecture.md", "exec"), ns)
    from avdetect.checks import CHECKS
    from avdetect.detector import Detector

    frames, samples = synth.talking_face(3.0, seed=3)
    loud = np.clip(samples * 50, -1, 1).astype(np.float32)  # heavily clipped
    clip = synth.write_av(tmp_path / "clipped.wav", None, loud, audio_codec="pcm_s16le")  # keeps full scale
    quiet = synth.write_av(tmp_path / "plain.wav", None, samples, audio_codec="pcm_s16le")
    detector = Detector(correlation_detector.settings, checks=(*CHECKS, ns["ClippingCheck"]))
    a, b = detector.scan(clip), detector.scan(quiet)
    assert list(a.checks) == [c.name for c in CHECKS] + ["clipping"]
    assert a.checks["clipping"].clipped_share > 0.05 > b.checks["clipping"].clipped_share
    assert a.to_dict()["checks"]["clipping"]["score"] > 50
    # weight 0: the toy check's score never decides the verdict
    plain = correlation_detector.scan(clip)
    assert (a.verdict, a.score) == (plain.verdict, plain.score)


def _imports(path: Path) -> set[str]:
    """Absolute names of the avdetect modules a file imports (anywhere in it)."""
    mod = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    pkg = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    if path.name == "__init__.py":
        mod = pkg = mod.removesuffix(".__init__")
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = pkg.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            if not base.startswith("avdetect"):
                continue
            for alias in node.names:  # `from . import x` may name a submodule
                sub = f"{base}.{alias.name}"
                out.add(sub if _module_file(sub) else base)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("avdetect")}
    out.discard(mod)
    return out


def _module_file(name: str) -> Path | None:
    p = ROOT.joinpath(*name.split("."))
    for cand in (p.with_suffix(".py"), p / "__init__.py"):
        if cand.exists():
            return cand
    return None


def _graph() -> dict[str, set[str]]:
    g = {}
    for f in PACKAGE.rglob("*.py"):
        name = ".".join(f.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        g[name] = {m for m in _imports(f) if _module_file(m)}
    return g


def test_no_import_cycle_between_modules():
    g = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for m in sorted(g.get(n, ())):
            if m.startswith(n + "."):
                continue  # a package importing its own submodules is not a cycle
            if state.get(m) == 1 and not n.startswith(m + "."):
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(m):] + [m]))
            if m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(g):
        if n not in state:
            visit(n)


def test_scan_time_code_never_imports_training():
    g = _graph()
    scan_time = [n for n in g if not n.startswith("avdetect.training") and n != "avdetect.cli_train"]
    bad = {n: sorted(m for m in g[n] if m.startswith("avdetect.training")) for n in scan_time}
    assert not {n: m for n, m in bad.items() if m}, bad


def test_scanning_loads_no_training_module(in_sync_mp4):
    code = ("import sys, avdetect, avdetect.cli, avdetect.batch.run, avdetect.evaluate\n"
            f"avdetect.load(device='cpu', lip_sync='correlation').scan({str(in_sync_mp4)!r})\n"
            "print(sorted(m for m in sys.modules if m.startswith('avdetect.training')))\n"
            "import avdetect.training.data\n"  # the probe sees a training import
            "print('avdetect.training.data' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-2:] == ["[]", "True"]


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_private_name_is_imported_across_modules():
    """Neither `from avdetect.x import _y` nor `import avdetect.x as m` / `from avdetect import x`
    followed by `m._y` / `x._y` (attribute access on an imported avdetect module)."""
    bad = []
    for f in list(PACKAGE.rglob("*.py")) + list((ROOT / "scripts").glob("*.py")):
        tree = ast.parse(f.read_text(encoding="utf-8"))
        modules = set()  # local names bound to avdetect modules in this file
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(("avdetect", "")) \
                    and (node.level or (node.module or "").startswith("avdetect")):
                bad += [f"{f.relative_to(ROOT)}: {a.name}" for a in node.names if _private(a.name)]
                modules |= {a.asname or a.name for a in node.names if a.name[:1].islower()}
            elif isinstance(node, ast.Import):
                modules |= {a.asname for a in node.names if a.asname and a.name.startswith("avdetect")}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in modules and _private(node.attr):
                bad.append(f"{f.relative_to(ROOT)}:{node.lineno}: {node.value.id}.{node.attr}")
    assert not bad, bad


def test_every_script_imports():
    """scripts/ use the library's public names: a rename that breaks one fails here, not months later."""
    code = ("import importlib.util, pathlib, sys\nbad = []\n"
            "for f in sorted(pathlib.Path('scripts').glob('*.py')):\n"
            "    spec = importlib.util.spec_from_file_location(f.stem, f)\n"
            "    sys.modules[f.stem] = mod = importlib.util.module_from_spec(spec)\n"  # dataclasses look it up
            "    try:\n        spec.loader.exec_module(mod)\n"
            "    except Exception as e:\n        bad.append(f'{f}: {type(e).__name__}: {e}')\n"
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
