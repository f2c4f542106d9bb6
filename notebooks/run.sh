#!/usr/bin/env bash
# Execute notebooks/roc.ipynb headless against a report and a scored Parquet file.
#
#   notebooks/run.sh <report-dir>/metrics.json <scored.parquet> [executed-notebook-dir]
#
# The virtual environment ($HOME/.cache/lotl-venv-nb, or $LOTL_NB_VENV) is created once and
# reused; packages are installed only when missing. LOTL_CHECK=1 (the default here) makes the
# notebook fail when its recomputed ROC-AUC differs from the report's.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
metrics="${1:?usage: notebooks/run.sh metrics.json scored.parquet [out-dir]}"
scored="${2:?usage: notebooks/run.sh metrics.json scored.parquet [out-dir]}"
out="${3:-$(dirname "$metrics")}"
venv="${LOTL_NB_VENV:-$HOME/.cache/lotl-venv-nb}"
py="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$py" -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import nbconvert, polars, matplotlib, pyarrow, ipykernel, jupyter_core' 2>/dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check jupyter nbconvert polars matplotlib pyarrow ipykernel
fi
"$venv/bin/python" -m ipykernel install --sys-prefix --name python3 >/dev/null

mkdir -p "$out"
export LOTL_METRICS="$(cd "$(dirname "$metrics")" && pwd)/$(basename "$metrics")"
export LOTL_SCORED="$(cd "$(dirname "$scored")" && pwd)/$(basename "$scored")"
export LOTL_OUT="$(cd "$out" && pwd)"
export LOTL_CHECK="${LOTL_CHECK:-1}"
export MPLBACKEND=Agg
"$venv/bin/jupyter" nbconvert --to notebook --execute \
    --ExecutePreprocessor.timeout=600 --ExecutePreprocessor.kernel_name=python3 \
    --output-dir "$LOTL_OUT" --output roc.executed.ipynb "$here/roc.ipynb"
echo "executed notebook: $LOTL_OUT/roc.executed.ipynb; plot: $LOTL_OUT/roc_notebook.png"
