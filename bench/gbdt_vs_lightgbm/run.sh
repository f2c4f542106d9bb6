#!/usr/bin/env bash
# Benchmark: lotl's GBDT vs LightGBM 4.7 on the same synthetic matrix, same trees, leaves,
# learning rate and bins, both on THREADS threads. See README.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
N_TRAIN="${N_TRAIN:-1000000}"
N_TEST="${N_TEST:-200000}"
N_FEATURES="${N_FEATURES:-100}"
TREES="${TREES:-100}"
LEAVES="${LEAVES:-31}"
LR="${LR:-0.1}"
THREADS="${THREADS:-2}"
DATA="${DATA:-$here/data/${N_TRAIN}x${N_FEATURES}}"
VENV="${VENV:-$here/.venv}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lotl-target}"

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "lightgbm==4.7.*" numpy scikit-learn
fi
if [ ! -f "$DATA/meta.json" ]; then
  "$VENV/bin/python" "$here/gen_data.py" "$DATA" "$N_TRAIN" "$N_TEST" "$N_FEATURES"
fi
(cd "$root" && cargo build --release -p lotl --example gbdt_bench)
echo "== $N_TRAIN rows x $N_FEATURES features, $TREES trees, $LEAVES leaves, lr $LR, $THREADS threads"
"$VENV/bin/python" "$here/lgbm.py" "$DATA" "$TREES" "$LEAVES" "$LR" "$THREADS"
"$CARGO_TARGET_DIR/release/examples/gbdt_bench" "$DATA" "$TREES" "$LEAVES" "$LR" "$THREADS"
