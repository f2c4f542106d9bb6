#!/usr/bin/env bash
# Regression gate: train experiments/ci-small.toml (small synthetic fleet + ../shared real
# corpus), evaluate on a fresh synthetic fleet, and fail when a metric is worse than
# ci/baseline.json beyond the tolerance. `ci/gate.sh --update` rewrites the baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lotl-target}"
cargo build -q -p lotl
lotl="$CARGO_TARGET_DIR/debug/lotl"
export GATE_DIR="${GATE_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/lotl-gate.XXXXXX")}"
"$lotl" train -c experiments/ci-small.toml -o "$GATE_DIR/model"
"$lotl" synth --config ci/eval-fleet.toml -o "$GATE_DIR/eval.parquet" >/dev/null
"$lotl" predict "$GATE_DIR/model" "$GATE_DIR/eval.parquet" -o "$GATE_DIR/scored.parquet"
if [ "${1:-}" = "--update" ]; then
  "$lotl" eval "$GATE_DIR/model" --data "$GATE_DIR/eval.parquet" -o "$GATE_DIR/report"
  cp "$GATE_DIR/report/baseline.json" ci/baseline.json 2>/dev/null || cp "$GATE_DIR/report/metrics.json" ci/baseline.json
  echo "baseline updated: ci/baseline.json"
else
  "$lotl" eval "$GATE_DIR/model" --data "$GATE_DIR/eval.parquet" -o "$GATE_DIR/report" \
    --baseline ci/baseline.json --tolerance 0.02
fi
