#!/usr/bin/env bash
# Run the speed benchmarks on a CUDA GPU and print a short table (a few minutes on one GPU).
#
#   bash benchmarks/gpu_check.sh            # uses .venv, creating it if needed
#
# The same benchmarks as on a CPU (benchmarks/test_speed.py: training, inference and cache, each
# against a plain fp32 DataLoader baseline in the same process), plus Grad-CAM speed, with
# PREFSTUDY_BENCH_DEVICE=cuda. Needs a CUDA build of torch; the shared data (../shared/data)
# enables the photo cases, which skip without it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
if [ ! -x "$PY" ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet -e '.[test]'
  PY=.venv/bin/python
fi
"$PY" - <<'PYEOF'
import torch
assert torch.cuda.is_available(), "no CUDA GPU visible to torch"
print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}, bf16 {torch.cuda.is_bf16_supported()}")
PYEOF
out=$(mktemp -d)
PREFSTUDY_BENCH_DEVICE=cuda "$PY" -m pytest benchmarks/test_speed.py benchmarks/test_gradcam_speed.py \
  --benchmark-only -q -s -p no:cacheprovider --benchmark-json "$out/bench.json" | grep -E "ratio|maps/s|cache|passed|failed|skipped" || true
"$PY" - "$out/bench.json" <<'PYEOF'
import json, sys
rows = json.load(open(sys.argv[1]))["benchmarks"]
print(f"\n{'benchmark':58} {'prefstudy':>12} {'baseline':>12} {'ratio':>7}")
for b in rows:
    e = b["extra_info"]
    fast = e.get("prefstudy_images_per_s", e.get("maps_per_s"))
    base = e.get("baseline_images_per_s", e.get("baseline_maps_per_s"))
    if fast is not None:
        print(f"{b['name']:58} {fast:>10.0f}/s {base:>10.0f}/s {e['ratio']:>6.2f}x")
    else:
        print(f"{b['name']:58} {'min ' + format(b['stats']['min'], '.4f') + ' s':>12}")
PYEOF
