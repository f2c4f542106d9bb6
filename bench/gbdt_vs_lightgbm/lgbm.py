"""Trains LightGBM on the benchmark data and prints one JSON line (seconds, test AUC)."""
import json
import sys
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
from sklearn.metrics import roc_auc_score

d = Path(sys.argv[1])
trees, leaves, lr, threads = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
meta = json.loads((d / "meta.json").read_text())
f = meta["n_features"]


def load(name, n):
    x = np.fromfile(d / f"X_{name}.f32", dtype=np.float32).reshape(f, n).T
    y = np.fromfile(d / f"y_{name}.f32", dtype=np.float32)
    return x, y


xtr, ytr = load("train", meta["n_train"])
xte, yte = load("test", meta["n_test"])
params = {
    "objective": "binary",
    "num_leaves": leaves,
    "max_depth": -1,
    "learning_rate": lr,
    "max_bin": 255,
    "min_data_in_leaf": 20,
    "min_sum_hessian_in_leaf": 1e-3,
    "lambda_l2": 0.0,
    "num_threads": threads,
    "bin_construct_sample_cnt": 200000,
    "verbose": -1,
    "seed": 1,
}
t0 = time.perf_counter()
ds = lgb.Dataset(xtr, label=ytr, params={"max_bin": 255, "verbose": -1}).construct()
t1 = time.perf_counter()
booster = lgb.train(params, ds, num_boost_round=trees)
t2 = time.perf_counter()
p = booster.predict(xte, num_threads=threads)
# Single-core prediction throughput on (at most) 200k test rows, C-contiguous as LightGBM wants.
xp = np.ascontiguousarray(xte[:200000])
t3 = time.perf_counter()
booster.predict(xp, num_threads=1)
t4 = time.perf_counter()
print(json.dumps({
    "learner": f"lightgbm {lgb.__version__}",
    "bin_seconds": round(t1 - t0, 3),
    "train_seconds": round(t2 - t1, 3),
    "total_seconds": round(t2 - t0, 3),
    "test_auc": round(float(roc_auc_score(yte, p)), 5),
    "predict_batch_events_per_s_1core": round(len(xp) / (t4 - t3)),
}))
