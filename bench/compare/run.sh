#!/usr/bin/env bash
# Side by side, in one run on one data set: lotl vs a Python replica of Elastic's chain
# (pandas + LightGBM + per-parent 15-minute sums) and vs LightGBM on lotl's own feature
# matrix. See README.md. Prints a Markdown table and writes $OUT/results.json.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
HOSTS="${HOSTS:-300}"         # 300 hosts x 4 days ~ 1.1M process starts
DAYS="${DAYS:-4}"
SEED="${SEED:-2026}"
ATTACK_RATE="${ATTACK_RATE:-3}"  # attack scenarios per host-day: ~1.6% malicious events
TREES="${TREES:-100}"
LEAVES="${LEAVES:-31}"
LR="${LR:-0.1}"
THREADS="${THREADS:-2}"
REPEAT="${REPEAT:-3}"         # runs of each featurise step, both sides; the table takes medians
OUT="${OUT:-$here/out}"
VENV="${VENV:-$HOME/.cache/lotl-venv-bench}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lotl-target}"
LOTL="${LOTL:-$CARGO_TARGET_DIR/release/lotl}"
EX="$CARGO_TARGET_DIR/release/examples"

if [ ! -x /usr/bin/time ]; then
  echo "installing GNU time (for peak memory)" >&2
  apt-get install -y -qq time >/dev/null || sudo apt-get install -y -qq time >/dev/null
fi
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "lightgbm==4.7.*" numpy pandas pyarrow scikit-learn
fi
PY="$VENV/bin/python"
if [ -z "${SKIP_BUILD:-}" ]; then
  (cd "$root" && cargo build --release -p lotl \
    && cargo build --release -p lotl --example compare_prep --example gbdt_bench \
    --example featurize_memory)
fi
mkdir -p "$OUT"

# measure NAME CMD...: wall time and peak RSS via /usr/bin/time -v, stdout to NAME.out.
# With RESUME=1, a step that already succeeded in $OUT is not run again.
measure() {
  local name="$1"; shift
  # GNU time reports "Exit status: 0" for a step killed by a signal too: not a success.
  if [ -n "${RESUME:-}" ] && grep -qs "Exit status: 0" "$OUT/$name.time" \
    && ! grep -qs "terminated by signal" "$OUT/$name.time"; then
    echo "== $name: done before, kept" >&2; return 0
  fi
  echo "== $name: $*" >&2
  cut -d' ' -f1-3 /proc/loadavg >"$OUT/$name.load"
  /usr/bin/time -v -o "$OUT/$name.time" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" || {
    echo "FAILED: $name (see $OUT/$name.err)" >&2; tail -20 "$OUT/$name.err" >&2; exit 1; }
}

# measure_repeated NAME CMD...: measure, REPEAT times (NAME, then NAME.r2, NAME.r3, ...).
measure_repeated() {
  local name="$1"; shift
  measure "$name" "$@"
  for i in $(seq 2 "$REPEAT"); do measure "$name.r$i" "$@"; done
}

# 1. One data set: a synthetic fleet, split by host into train and test halves, and the
#    elastic2021 matrix lotl's GBDT trains on (also given to LightGBM).
if [ ! -f "$OUT/events.parquet" ]; then
  measure synth "$LOTL" synth --hosts "$HOSTS" --days "$DAYS" --seed "$SEED" \
    --attack-rate "$ATTACK_RATE" -o "$OUT/events.parquet"
fi
if [ ! -f "$OUT/test.parquet" ]; then
  measure split "$PY" "$here/split.py" "$OUT/events.parquet" "$OUT/train.parquet" "$OUT/test.parquet"
fi
if [ ! -f "$OUT/matrix/meta.json" ]; then
  measure prep "$EX/compare_prep" "$OUT/train.parquet" "$OUT/test.parquet" "$OUT/matrix" elastic2021
fi

# 2. Featurise the test events: Python replica vs lotl (both Parquet in, Parquet out).
#    A lotl run takes about a second and a half, in which this VM's zeroing of fresh pages
#    alone varies by up to a second: each step runs REPEAT times, the replica's too.
measure_repeated py_featurise "$PY" "$here/replica.py" featurise "$OUT/test.parquet" "$OUT/py_test_features.parquet"
measure_repeated lotl_featurise "$LOTL" features -r elastic2021 "$OUT/test.parquet" -o "$OUT/lotl_test_features.parquet"
# The same in memory: events read first, only the featurising timed (the replica's
# featurise_seconds likewise times only its feature function).
measure_repeated lotl_featurise_memory "$EX/featurize_memory" "$OUT/test.parquet" elastic2021

# 3. Training on the same matrix, same trees/leaves/learning rate/bins, THREADS threads;
#    both also report single-core prediction throughput on the test matrix.
measure lightgbm "$PY" "$root/bench/gbdt_vs_lightgbm/lgbm.py" "$OUT/matrix" "$TREES" "$LEAVES" "$LR" "$THREADS"
measure lotl_gbdt "$EX/gbdt_bench" "$OUT/matrix" "$TREES" "$LEAVES" "$LR" "$THREADS"

# 4. The whole chains. Python: featurise the train events, fit encoders + LightGBM, then
#    featurise + predict + cluster-sum the test events. lotl: `lotl train` (featurise, fit,
#    calibrate, cluster model), then `lotl predict` + `lotl detect` on the test events.
measure py_featurise_train "$PY" "$here/replica.py" featurise "$OUT/train.parquet" "$OUT/py_train_features.parquet"
measure py_fit "$PY" "$here/replica.py" fit "$OUT/py_train_features.parquet" "$OUT/py_model" "$TREES" "$LEAVES" "$LR" "$THREADS"
measure py_detect "$PY" "$here/replica.py" detect "$OUT/py_model" "$OUT/test.parquet" "$OUT/py_alerts.csv" "$THREADS"
cat >"$OUT/experiment.toml" <<EOF
name = "bench-compare"
description = "bench/compare: elastic2021 features, GBDT with LightGBM's settings"
seed = 1
[[data]]
parquet = "$OUT/train.parquet"
[split]
by = "host"
ratios = [0.8, 0.1, 0.1]
[features]
recipe = "elastic2021"
[model]
type = "gbdt"
[model.gbdt]
n_trees = $TREES
learning_rate = $LR
max_leaves = $LEAVES
min_data_in_leaf = 20
n_threads = $THREADS
[decision]
calibration = "isotonic"
objective = "maximize_minimum_recall"
EOF
measure lotl_train "$LOTL" train -c "$OUT/experiment.toml" -o "$OUT/bundle" --tracking-dir "$OUT/runs"
measure lotl_predict "$LOTL" predict "$OUT/bundle" "$OUT/test.parquet" -o "$OUT/scored.parquet"
# End to end as the replica's detect runs it: events in, featurise, score, cluster, alerts out.
measure lotl_detect "$LOTL" detect "$OUT/bundle" "$OUT/test.parquet" -o "$OUT/alerts.ndjson"

"$PY" "$here/summarise.py" "$OUT" "$THREADS" | tee "$OUT/table.md"
