#!/usr/bin/env bash
# The whole path on a CUDA GPU, in one command, ending in one table (about 10 minutes on one GPU).
#
#   bash benchmarks/gpu_check.sh            # uses .venv, creating it if needed
#
# 1. speed: training, inference and cache against a plain fp32 DataLoader loop (benchmarks/test_speed.py),
#    Grad-CAM maps/s (test_gradcam_speed.py), folded-BatchNorm inference (test_folded_inference.py);
# 2. the time to a model on full Fashion-MNIST (test_time_to_model.py -k fashion): `prefstudy run` to its
#    JSON with the default schedule and --schedule paper, against the plain loop's time to 93 %;
# 3. --compile against eager on the same run, and a DDP run with 2 processes (torchrun) where 2 GPUs exist.
# Needs a CUDA build of torch and Debian's Fashion-MNIST (apt-get install dataset-fashion-mnist).
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
print(f"torch {torch.__version__}, {torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}, "
      f"bf16 {torch.cuda.is_bf16_supported()}")
PYEOF
out=$(mktemp -d)
export PREFSTUDY_BENCH_DEVICE=cuda
"$PY" -m pytest benchmarks/test_speed.py benchmarks/test_gradcam_speed.py benchmarks/test_folded_inference.py \
  benchmarks/test_time_to_model.py -k "not photos" --benchmark-only -q -s -p no:cacheprovider \
  --benchmark-json "$out/bench.json" | grep -E "ratio|maps/s|cache|folded|plain|prefstudy run|passed|failed|skipped" || true

# --compile against eager, and DDP over 2 GPUs, on a 10k-image study (the Fashion-MNIST sample).
study="$out/study"
"$PY" -m prefstudy study init "$study" > /dev/null
"$PY" -m prefstudy data add fm --kind fashion-mnist-sample --study "$study" > /dev/null
"$PY" -m prefstudy subject simulate tbs --dataset fm --rule classes:Trouser,Bag,Sneaker --noise 0.05 --study "$study" > /dev/null
timed_run() {  # NAME, then the command: prints "NAME seconds accuracy images/s"
  local name=$1; shift
  local began; began=$(date +%s.%N)
  "$@" --study "$study" --subject tbs --dataset fm --epochs 3 --budget 0 --json > "$out/$name.json"
  "$PY" - "$name" "$began" "$out/$name.json" <<'PYEOF'
import json, sys, time
name, began, path = sys.argv[1], float(sys.argv[2]), sys.argv[3]
r = json.load(open(path))
print(f"{name:22} {time.time() - began:8.1f} s  test {100 * r['metrics']['test']['accuracy']:6.2f} %  "
      f"{r['train_images_per_s'] or 0:9.0f} train images/s  processes {r['processes']}")
PYEOF
}
echo
timed_run eager "$PY" -m prefstudy run
timed_run compile "$PY" -m prefstudy run --compile
if [ "$("$PY" -c 'import torch; print(torch.cuda.device_count())')" -ge 2 ]; then
  timed_run ddp-2-gpus "$PY" -m torch.distributed.run --standalone --nproc-per-node 2 -m prefstudy run
else
  echo "ddp-2-gpus             skipped: one GPU"
fi

"$PY" - "$out/bench.json" <<'PYEOF'
import json, sys
rows = json.load(open(sys.argv[1]))["benchmarks"]
print(f"\n{'benchmark':58} {'prefstudy':>12} {'baseline':>12} {'ratio':>7}")
for b in rows:
    e = b["extra_info"]
    if "plain_seconds" in e:
        print(f"{'time to a model (plain loop to 93 % -> default run)':58} {e['default_seconds']:>10.1f} s "
              f"{e['plain_seconds']:>10.1f} s {e['ratio_default_vs_plain']:>6.2f}x")
        continue
    if "paper_seconds" in e:
        print(f"{'time to a model, --schedule paper (10 epochs)':58} {e['paper_seconds']:>10.1f} s")
        continue
    fast = e.get("prefstudy_images_per_s", e.get("maps_per_s", e.get("folded_images_per_s")))
    base = e.get("baseline_images_per_s", e.get("baseline_maps_per_s", e.get("model_images_per_s")))
    if fast is not None:
        print(f"{b['name']:58} {fast:>10.0f}/s {base:>10.0f}/s {e['ratio']:>6.2f}x")
    else:
        print(f"{b['name']:58} {'min ' + format(b['stats']['min'], '.4f') + ' s':>12}")
PYEOF
