"""Reads the outputs of bench/compare/run.sh and prints the comparison table (Markdown)."""

import json
import re
import statistics
import sys
from pathlib import Path

import pyarrow.parquet as pq
from sklearn.metrics import roc_auc_score

out = Path(sys.argv[1])
THREADS = sys.argv[2] if len(sys.argv) > 2 else "2"


def runs(name, ext):
    """The files of a step's runs: NAME.ext, then NAME.r2.ext, ... (run.sh's REPEAT)."""
    return [out / f"{name}.{ext}"] + sorted(out.glob(f"{name}.r*.{ext}"))


def timing(name):
    """(wall seconds, peak RSS MB) from /usr/bin/time -v: the median wall of the step's
    runs, and the largest peak."""
    walls, rsss = [], []
    for path in runs(name, "time"):
        text = path.read_text()
        m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text)
        parts = [float(p) for p in m.group(1).split(":")]
        walls.append(sum(p * 60 ** i for i, p in enumerate(reversed(parts))))
        rsss.append(int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024)
    return statistics.median(walls), max(rsss)


def last_json(name, path=None):
    for line in reversed((path or out / f"{name}.out").read_text().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise SystemExit(f"no JSON line in {name}.out")


def median_field(name, field):
    """The median of `field` of the last JSON line of each of the step's runs."""
    return statistics.median(last_json(name, p)[field] for p in runs(name, "out"))


def repeats(name):
    return len(runs(name, "time"))


meta = json.loads((out / "matrix" / "meta.json").read_text())
loads = {p.stem: p.read_text().split()[0] for p in out.glob("*.load")}
n_test = meta["n_test"]
n_events = meta["n_train"] + meta["n_test"]
lg, lo = last_json("lightgbm"), last_json("lotl_gbdt")
py_det = last_json("py_detect")
py_fit = last_json("py_fit")

w = {k: timing(k) for k in [
    "py_featurise", "lotl_featurise", "lightgbm", "lotl_gbdt", "py_featurise_train", "py_fit",
    "py_detect", "lotl_train", "lotl_predict", "lotl_detect"]}

scored = pq.read_table(out / "scored.parquet", columns=["prediction_probability", "lotl.label"])
y = [v == "malicious" for v in scored.column("lotl.label").to_pylist()]
lotl_chain_auc = roc_auc_score(y, scored.column("prediction_probability").to_numpy())

rows = []


def speed(what, lotl, alt, lotl_mb, alt_mb, alt_name):
    rows.append((what, f"{lotl:,.0f}", f"{alt:,.0f}", f"{lotl / alt:.1f}x", lotl_mb, alt_mb, alt_name))


def secs(what, lotl, alt, lotl_mb, alt_mb, alt_name):
    rows.append((what, f"{lotl:.1f} s", f"{alt:.1f} s", f"{lotl / alt:.2f}", lotl_mb, alt_mb, alt_name))


speed("featurise elastic2021, events/s (Parquet in, Parquet out)",
      n_test / w["lotl_featurise"][0], n_test / w["py_featurise"][0],
      w["lotl_featurise"][1], w["py_featurise"][1], "Python replica (pandas)")
lotl_feat_s = median_field("lotl_featurise_memory", "featurise_seconds")
speed("featurise elastic2021, events/s, in memory (excluding I/O)",
      n_test / lotl_feat_s, n_test / median_field("py_featurise", "featurise_seconds"),
      None, None, "Python replica (pandas)")
speed("predict, events/s, 1 core, same matrix (model only)",
      lo["predict_batch_events_per_s_1core"], lg["predict_batch_events_per_s_1core"],
      None, None, "LightGBM 4.7 predict")
speed("score events, events/s (read, featurise, encode, predict)",
      n_test / w["lotl_predict"][0],
      n_test / (py_det["featurise_seconds"] + py_det["predict_seconds"]),
      w["lotl_predict"][1], None, "Python replica")
speed("end to end, events/s (events Parquet to alerts, one process each)",
      n_test / w["lotl_detect"][0], n_test / w["py_detect"][0],
      w["lotl_detect"][1], w["py_detect"][1], "Python replica")
secs(f"GBDT training (binning included), same matrix, {meta['n_train']:,} rows, {THREADS} threads",
     lo["total_seconds"], lg["total_seconds"], w["lotl_gbdt"][1], w["lightgbm"][1],
     "LightGBM 4.7")
secs("whole training chain (featurise, encode, fit, calibrate/threshold)",
     w["lotl_train"][0], w["py_featurise_train"][0] + w["py_fit"][0],
     w["lotl_train"][1], max(w["py_featurise_train"][1], w["py_fit"][1]), "Python replica")
rows.append(("test AUC, same matrix", f"{lo['test_auc']:.5f}", f"{lg['test_auc']:.5f}",
             f"{lo['test_auc'] - lg['test_auc']:+.5f}", None, None, "LightGBM 4.7"))
rows.append(("test AUC, whole chain on the test events", f"{lotl_chain_auc:.5f}",
             f"{py_det['auc']:.5f}", f"{lotl_chain_auc - py_det['auc']:+.5f}", None, None,
             "Python replica"))


def mb(v):
    return "" if v is None else f"{v:,.0f}"


print(f"{n_events:,} events ({meta['n_train']:,} train / {n_test:,} test, by host), "
      f"{meta['n_features']} encoded elastic2021 columns; test split {meta['test_positives']:,} malicious\n")
print("| measure | lotl | alternative | lotl / alternative | lotl peak MB | alternative peak MB | alternative |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {mb(r[4])} | {mb(r[5])} | {r[6]} |")
print(f"\nalerts: lotl {sum(1 for _ in open(out / 'alerts.ndjson'))}, "
      f"replica {py_det['alerts']} (different cluster scoring; not comparable as quality)")
print(f"replica fit: encode {py_fit['encode_seconds']:.1f} s, LightGBM {py_fit['train_seconds']:.1f} s; "
      f"replica detect: featurise {py_det['featurise_seconds']:.1f} s, predict {py_det['predict_seconds']:.1f} s, "
      f"cluster {py_det['cluster_seconds']:.1f} s; lotl detect (score and detect) {w['lotl_detect'][0]:.1f} s")
print(f"featurise rows: medians of {repeats('lotl_featurise')} runs of lotl, "
      f"{repeats('lotl_featurise_memory')} in memory, {repeats('py_featurise')} of the replica; "
      f"other rows: one run each")
print("load average (1 min) when each step started: " + ", ".join(f"{k} {v}" for k, v in sorted(loads.items())))
json.dump({"rows": rows, "walls": w}, open(out / "results.json", "w"), indent=1)
