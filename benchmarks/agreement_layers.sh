#!/usr/bin/env bash
# Grad-CAM agreement (the paper's Table 5) on real Fashion-MNIST and LFW, across layers and resolutions.
# A subject prefers high contrast in the top-left quadrant; about 15 minutes on a 2-core CPU.
#   bash benchmarks/agreement_layers.sh [STUDY_DIR]   (needs ../shared/data/lfw and Debian's Fashion-MNIST)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
P=$ROOT/.venv/bin/prefstudy
LFW=${PREFSTUDY_SHARED_DATA:-$ROOT/../shared/data}/lfw
DIR=${1:-$(mktemp -d)/study}
if [ -e "$DIR/study.toml" ]; then echo "$DIR is already a study; give a new directory" >&2; exit 1; fi
$P study init "$DIR" >/dev/null && cd "$DIR"
$P data add fm --kind fashion-mnist 2>/dev/null
for s in 32 64 96; do $P data add faces$s --kind lfw --path "$LFW" --size $s --channels 1 2>/dev/null; done
$P subject simulate carol --dataset fm --rule "feature:contrast@top-left" 2>&1 | tail -1
for s in 32 64 96; do $P subject simulate carol --dataset faces$s --rule "feature:contrast@top-left" 2>&1 | tail -1; done
run() { $P run --subject carol --dataset "$1" "${@:2}" --json 2>/dev/null | python3 -c "import json,sys; r=json.load(sys.stdin); print(r['run_id'], round(r['metrics']['test']['accuracy'],4), round(r['duration_s']), file=sys.stderr); print(r['run_id'])"; }
explain() { $P explain "$1" --n 8 --json "${@:2}" 2>/dev/null | python3 -c "
import json,sys; r=json.load(sys.stdin)
for a in ('preferred','not_preferred'):
    s=r['agreement'][a]; c=s['chance']
    print(r['run_id'], r['layer'], a, s['n'], 'pointing %.3f (%.3f) energy %.3f (%.3f) iou %.3f (%.3f)' % (s['pointing_game'], c['pointing_game'], s['energy'], c['energy'], s['iou'], c['iou']))"; }
FM=$(run fm --epochs 3)
for layer in features.7.2 features.4.2 features.1.2; do explain $FM --layer $layer; done
for s in 32 64 96; do
  R=$(run faces$s --epochs 10 --batch-size 32)
  for layer in features.7.2 features.4.2 features.1.2; do explain $R --layer $layer; done
done
$P report --format markdown > report.md && echo "report: $DIR/report.md"
