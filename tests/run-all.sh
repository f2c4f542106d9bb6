#!/usr/bin/env bash
# Every test lotl has, as on a fresh machine: installs the Python tools the tests use (into
# virtual environments under ~/.cache), starts a real MLflow server, runs the Rust tests,
# checks the ONNX export with onnxruntime, runs the regression gate, executes the
# notebook, and reads feature files with pyarrow. README.md's "run the tests" command.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lotl-target}"

# A TrueType font for PNG plots (SVG needs none; without one PNGs are skipped, not failed).
if ! ls /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf >/dev/null 2>&1; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq fonts-dejavu-core) >/dev/null 2>&1 \
      || echo "warning: could not install fonts-dejavu-core; PNG plots will be skipped" >&2
  fi
fi

echo "== MLflow server for the tracking tests"
# shellcheck source=../.ci/mlflow.sh
source .ci/mlflow.sh
mlflow_install
mlflow_start
trap mlflow_stop EXIT

echo "== cargo test"
cargo test --workspace

echo "== ONNX export checked by onnx.checker and onnxruntime"
bash .ci/onnx_check.sh

echo "== regression gate: small synthetic fleet + shared real corpus, trained from scratch"
GATE_DIR="$(mktemp -d "${TMPDIR:-/tmp}/lotl-gate.XXXXXX")"
export GATE_DIR
bash ci/gate.sh

echo "== notebook, executed headless against the gate's report"
bash notebooks/run.sh "$GATE_DIR/report/metrics.json" "$GATE_DIR/scored.parquet" "$GATE_DIR/notebook"
echo "== feature files read alike by pyarrow and polars"
bash .ci/feature_file_check.sh "$GATE_DIR/eval.parquet"
echo "all test stages passed"
