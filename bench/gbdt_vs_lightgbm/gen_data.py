"""Synthetic tabular benchmark data read by both learners.

Writes, under OUT_DIR: X_train.f32 / X_test.f32 (float32, column-major: all of column 0,
then column 1, ...), y_train.f32 / y_test.f32 (0.0 / 1.0) and meta.json.
About 5% of the values of every fifth feature are NaN (missing), as in real event features.
"""
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import make_classification

out = Path(sys.argv[1])
n_train = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
n_test = int(sys.argv[3]) if len(sys.argv) > 3 else 200_000
n_features = int(sys.argv[4]) if len(sys.argv) > 4 else 100
out.mkdir(parents=True, exist_ok=True)

X, y = make_classification(
    n_samples=n_train + n_test,
    n_features=n_features,
    n_informative=min(30, n_features),
    n_redundant=min(10, max(0, n_features - 30)),
    flip_y=0.05,
    class_sep=0.6,
    weights=[0.8, 0.2],
    random_state=42,
)
X = X.astype(np.float32)
rng = np.random.default_rng(7)
for j in range(0, n_features, 5):
    X[rng.random(X.shape[0]) < 0.05, j] = np.nan
y = y.astype(np.float32)

for name, sl in (("train", slice(0, n_train)), ("test", slice(n_train, None))):
    # X[sl].T in C order is the column-major layout of X[sl].
    np.ascontiguousarray(X[sl].T).tofile(out / f"X_{name}.f32")
    y[sl].tofile(out / f"y_{name}.f32")
(out / "meta.json").write_text(
    json.dumps({"n_train": n_train, "n_test": n_test, "n_features": n_features})
)
print(f"wrote {n_train} train + {n_test} test rows x {n_features} features to {out}")
