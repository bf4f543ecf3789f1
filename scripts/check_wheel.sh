#!/usr/bin/env bash
# CI: the built wheel, not the checkout, installs into a fresh venv and scans a real clip.
#
# Usage: scripts/check_wheel.sh   (after .ci/run made .venv; about 5 min, mostly pip)
#
# Builds dist/avdetect-*.whl with .venv's pip, installs it (pip resolves the dependencies) into a
# fresh venv ($AVDETECT_WHEEL_VENV, default /tmp/avdetect-wheel-venv), then, from a folder outside
# the checkout: loads the shipped weights from the installed package, runs `avdetect demo`, and
# `avdetect scan` on the first *.mp4 under ../shared/data/av (else the demo's in-sync clip).
# Fails on a non-zero exit or a scan verdict of "error".
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${AVDETECT_WHEEL_VENV:-/tmp/avdetect-wheel-venv}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
unset AVDETECT_MODEL_DIR AVDETECT_SYNC_MODEL  # the weights must come from the wheel

cd "$ROOT"
rm -rf dist/avdetect-*.whl
.venv/bin/pip wheel -q --no-deps -w dist .
WHEEL="$(ls dist/avdetect-*.whl)"
echo "check_wheel: built $WHEEL"
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q "$WHEEL"

cd "$WORK"  # outside the checkout: nothing can be imported or read from it
"$VENV/bin/python" - "$ROOT" <<'EOF'
import sys
from pathlib import Path

import avdetect
from avdetect.models import spoof, store, sync

root = Path(sys.argv[1]).resolve()
pkg = Path(avdetect.__file__).resolve().parent
assert root not in pkg.parents, f"avdetect imported from the checkout ({pkg}), not the wheel"
assert store.model_dir() == pkg / "models" / "weights", store.model_dir()
sync.load_model(store.model_dir() / "sync")  # verified: kind, version, sha256, shapes
spoof.load_model(store.model_dir() / "spoof")
detector = avdetect.load(device="cpu")  # the library API: every model of every check
print(f"check_wheel: avdetect and its weights load from {pkg}; checks: {[c.name for c in detector.checks]}")
EOF
"$VENV/bin/avdetect" demo --out-dir "$WORK/demo" --format json > demo.jsonl
CLIP="$(find "$ROOT/../shared/data/av" -name '*.mp4' 2>/dev/null | sort | head -n 1 || true)"
CLIP="${CLIP:-$WORK/demo/demo_in_sync.mp4}"
echo "check_wheel: scanning $CLIP"
"$VENV/bin/avdetect" scan "$CLIP" --device cpu > scan.jsonl  # exit 1 when the scan failed
"$VENV/bin/python" - <<'EOF'
import json
from pathlib import Path

for name in ("demo.jsonl", "scan.jsonl"):
    reports = [json.loads(line) for line in Path(name).read_text().splitlines() if line.strip()]
    assert reports, f"{name}: no report"
    for r in reports:
        assert r["verdict"] != "error", f"{name}: {r.get('error')}"
        print(f"check_wheel: {name}: {r.get('file')}: {r['verdict']}")
EOF
echo "check_wheel: ok"
