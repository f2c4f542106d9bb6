#!/usr/bin/env bash
# ONNX export check: onnx.checker accepts the exported model and onnxruntime's
# probabilities equal lotl's own within 1e-5 on 1,000 events (missing values included),
# for tree bundles (TreeEnsembleClassifier) and burn-network bundles (standard operators).
# Python packages live in a reusable venv ($LOTL_ONNX_VENV, default
# $HOME/.cache/lotl-venv-onnx). Run from anywhere; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lotl-target}"
VENV="${LOTL_ONNX_VENV:-$HOME/.cache/lotl-venv-onnx}"

source .ci/venv.sh
ensure_venv "$VENV" "onnx, onnxruntime, numpy" onnx onnxruntime numpy

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cargo run --quiet -p lotl-export --example onnx_fixture -- "$WORK" >/dev/null

"$VENV/bin/python" - "$WORK/cases.json" <<'PY'
import json, sys
import numpy as np
import onnx
import onnxruntime as ort

cases = json.load(open(sys.argv[1]))
failed = False
any_missing = False
kinds = set()
for c in cases:
    path = f"{c['dir']}/model.onnx"
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    meta = {p.key: p.value for p in model.metadata_props}
    names = json.loads(meta["feature_names"])
    assert len(names) == c["cols"], (len(names), c["cols"])
    x = np.fromfile(f"{c['dir']}/x.f32", dtype="<f4").reshape(c["rows"], c["cols"])
    want = np.fromfile(f"{c['dir']}/p.f32", dtype="<f4")
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    label, probs = sess.run(["label", "probabilities"], {"input": x})
    got = probs[:, 1]
    err = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
    sums = float(np.max(np.abs(probs.sum(axis=1) - 1.0)))
    ok = err <= 1e-5 and sums <= 1e-5
    any_missing = any_missing or bool(np.isnan(x).any())
    kinds.add(c["model"])
    if c["rows"] < 1000:
        print(f"FAIL: {c['name']} has only {c['rows']} rows (need 1,000)")
        failed = True
    ops = sorted({n.op_type for n in model.graph.node})
    print(f"{c['name']} ({c['model']}: {', '.join(ops)}): {c['rows']} rows x {c['cols']} features, {int(np.isnan(x).sum())} missing inputs, "
          f"max |p_onnxruntime - p_lotl| = {err:.2e}, checker ok: {'PASS' if ok else 'FAIL'}")
    failed |= not ok
for k in ("gbdt", "burn"):
    if k not in kinds:
        print(f"FAIL: no {k} case")
        failed = True
if not any_missing:
    print("FAIL: no case had missing inputs")
    failed = True
sys.exit(1 if failed else 0)
PY
