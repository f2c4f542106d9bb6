#!/usr/bin/env bash
# Feature files are written page by page by lotl's own dictionary encoder
# (crates/events/src/parquet/dictionary_pages.rs): check that an independent reader
# (pyarrow, Arrow C++) reads every recipe's file exactly as polars does, row for row.
#
#   .ci/feature_file_check.sh <events.parquet>
#
# Uses the notebook's virtual environment ($LOTL_NB_VENV, default $HOME/.cache/lotl-venv-nb).
set -euo pipefail
cd "$(dirname "$0")/.."
events="${1:?usage: .ci/feature_file_check.sh events.parquet}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lotl-target}"
venv="${LOTL_NB_VENV:-$HOME/.cache/lotl-venv-nb}"
source .ci/venv.sh
ensure_venv "$venv" "polars, pyarrow, numpy" polars pyarrow numpy
cargo build -q -p lotl
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for recipe in elastic2021 elastic2026 lotl; do
  "$CARGO_TARGET_DIR/debug/lotl" features -r "$recipe" "$events" -o "$work/$recipe.parquet" >/dev/null
  "$venv/bin/python" - "$events" "$work/$recipe.parquet" <<'PY'
import sys
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

events, path = sys.argv[1], sys.argv[2]
arrow = pq.read_table(path)
polars = pl.read_parquet(path)
assert arrow.num_rows == pq.read_metadata(events).num_rows, (arrow.num_rows, "rows")
assert arrow.column_names == polars.columns, "column names differ"
dictionaries = 0
for name in arrow.column_names:
    a = arrow.column(name)
    if pa.types.is_dictionary(a.type):
        dictionaries += 1
        a = a.cast(pa.string())
    p = polars[name]
    if p.dtype == pl.Categorical:
        p = p.cast(pl.String)
    if pa.types.is_floating(a.type):
        # Missing numeric features are NaN, and NaN equals nothing in Arrow's `equals`.
        same = np.array_equal(
            a.to_numpy(zero_copy_only=False), p.to_numpy(), equal_nan=True
        )
    else:
        same = a.equals(pa.chunked_array([p.to_arrow().cast(a.type)]))
    if not same:
        sys.exit(f"{path}: column {name} differs between pyarrow and polars")
assert dictionaries > 0, "no dictionary column: the check checked nothing"
print(f"{path}: {arrow.num_rows} rows x {arrow.num_columns} columns "
      f"({dictionaries} dictionary) read alike by pyarrow and polars")
PY
done
