"""k-means at scale: odis's kmeans_fit + kmeans_assign next to scikit-learn's
MiniBatchKMeans on the same synthetic embeddings, in one run.

    python benches/kmeans.py --out /data/vectors [--rows 2000000] [--dims 384] [--k 1024]

Writes the vectors once (clustered Float32 unit vectors, as sentence
embeddings are; reused when there), then measures each side in its own
process: wall time, peak RSS and the inertia over every row (the sum of
squared Euclidean distances to the nearest centroid; metric=l2 on both
sides). The target: odis's peak RSS within 2 GiB.

With --dpp it measures `dpp_select(..., 0.1, 'clusters=auto')` over the same
vectors (quality sin(id)) under --memory-limit: the rows it returns against
10% of the rows, the clusters it chose, wall time and peak RSS; the target:
the budget exactly, peak RSS within 2 GiB.

With --mig it measures `mig_select(..., 0.1)` over the same rows with 20,000
integer labels (id modulo 20,000; quality exp(sin(id))): rows returned, wall
time, peak RSS; the target: peak RSS within 2 GiB.

With --semantic it measures SemDeDup instead, beside the k-means it stands on:
`semantic_duplicates` over the same vectors (its defaults: spherical k-means,
one cluster per 1,000 rows up to 1,000) against `kmeans_fit` + `kmeans_assign`
at that k and metric, each in its own process under --memory-limit (1G by
default); the targets: peak RSS within 2 GiB and time within 2x the k-means.
"""

import argparse
import json
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from scale import measured

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PARTS = 8
# Rows per Parquet row group, as odis select writes its work directory: a
# reader holds one row group's column chunk per partition (100 MB of 384-wide
# Float32 vectors here; a file of one 250,000-row group is 384 MB).
ROW_GROUP = 65536

SKLEARN = """
import glob, json, sys, time
import numpy as np, pyarrow.parquet as pq
from sklearn.cluster import MiniBatchKMeans
files = sorted(glob.glob(sys.argv[1]))
x = np.concatenate([np.asarray(pq.read_table(f, columns=['v']).column('v').combine_chunks().values).reshape(-1, int(sys.argv[3])) for f in files])
t = time.perf_counter()
model = MiniBatchKMeans(n_clusters=int(sys.argv[2]), random_state=0, n_init=1, batch_size=4096).fit(x)
labels = model.predict(x)
inertia = float(((x - model.cluster_centers_[labels]) ** 2).sum(dtype=np.float64))
print(json.dumps({"inertia": inertia, "fit_s": time.perf_counter() - t}))
"""


def write_vectors(out, rows, dims, row_group):
    """`rows` unit vectors around 4 × sqrt(rows) centres, in PARTS files."""
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(max(16, int(4 * rows**0.5)), dims)).astype(np.float32)
    per = -(-rows // PARTS)
    for part in range(PARTS):
        n = min(per, rows - part * per)
        x = centres[rng.integers(0, len(centres), n)] + 0.5 * rng.normal(size=(n, dims)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        values = pa.array(x.reshape(-1), pa.float32())
        column = pa.FixedSizeListArray.from_arrays(values, dims)
        ids = pa.array(np.arange(part * per, part * per + n), pa.int64())
        pq.write_table(pa.table({"id": ids, "v": column}), os.path.join(out, f"part-{part:03d}.parquet"), row_group_size=row_group)
        print(f"wrote part {part + 1} of {PARTS}", file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    parser.add_argument("--odis", default=os.path.join(target, "release", "odis"))
    parser.add_argument("--out", required=True, help="where the vectors are (written when absent)")
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--k", type=int, default=1024)
    parser.add_argument("--spec", default="metric=l2", help="kmeans_fit's spec")
    parser.add_argument("--row-group", type=int, default=ROW_GROUP, help="rows per Parquet row group of the vectors")
    parser.add_argument("--odis-only", action="store_true", help="skip scikit-learn (minutes, and RAM for every vector)")
    parser.add_argument("--semantic", action="store_true", help="measure semantic_duplicates beside its k-means instead")
    parser.add_argument("--dpp", action="store_true", help="measure dpp_select at a 10%% budget with clusters=auto instead")
    parser.add_argument("--mig", action="store_true", help="measure mig_select at a 10%% budget over 20,000 labels instead")
    parser.add_argument("--memory-limit", default="1G", help="odis's --memory-limit in the --semantic and --dpp runs")
    args = parser.parse_args()
    meta = os.path.join(args.out, "vectors.json")
    wanted = {"rows": args.rows, "dims": args.dims, "row_group": args.row_group}
    if not os.path.exists(meta) or json.load(open(meta)) != wanted:
        write_vectors(args.out, args.rows, args.dims, args.row_group)
        json.dump(wanted, open(meta, "w"))
    files = os.path.join(args.out, "part-*.parquet")
    if args.semantic:
        return semantic(args, files)
    if args.dpp:
        return dpp(args, files)
    if args.mig:
        return mig(args, files)

    summary = os.path.join(args.out, "odis.json")
    sql = [
        f"CREATE TABLE m AS SELECT kmeans_fit(v, {args.k}, '{args.spec}') AS model FROM '{files}'",
        "SELECT model['sample_rows'] AS sampled, model['iterations'] AS iterations FROM m",
        f"SELECT sum(a['distance'] * a['distance']) AS inertia, count(DISTINCT a['cluster']) AS used "
        f"FROM (SELECT kmeans_assign(v, (SELECT model FROM m)) AS a FROM '{files}')",
    ]
    argv = [args.odis, "--format", "json"] + [a for s in sql for a in ("-c", s)]
    seconds, mib, cpu = measured(argv, stdout_path=summary)
    lines = [json.loads(l) for l in open(summary).read().split("\n") if l.strip().startswith("[")]
    odis_inertia = lines[-1][0]["inertia"]
    print(f"odis: {seconds:.1f} s, peak {mib:,.0f} MiB, {lines[-2][0]} , inertia {odis_inertia:.1f}", flush=True)

    if mib > 2048:
        print(f"odis's peak RSS {mib:.0f} MiB is over 2 GiB")
    if args.odis_only:
        return
    out = os.path.join(args.out, "sklearn.json")
    s_seconds, s_mib, _ = measured([sys.executable, "-c", SKLEARN, files, str(args.k), str(args.dims)], stdout_path=out)
    reference = json.load(open(out))
    print(f"scikit-learn MiniBatchKMeans: {s_seconds:.1f} s, peak {s_mib:,.0f} MiB, inertia {reference['inertia']:.1f}")

    print(f"\n| {args.rows:,} × {args.dims}, k = {args.k} | wall (fit + assign) | peak RSS | inertia over all rows |")
    print("|---|---|---|---|")
    print(f"| odis kmeans_fit + kmeans_assign ('{args.spec}') | {seconds:.1f} s | {mib:,.0f} MiB | {odis_inertia:,.1f} |")
    print(f"| scikit-learn MiniBatchKMeans (batch 4096, n_init 1) | {s_seconds:.1f} s | {s_mib:,.0f} MiB | {reference['inertia']:,.1f} |")
    if mib > 2048:
        sys.exit(1)


def dpp(args, files):
    """dpp_select at a budget of 10% of the rows, clusters=auto: does it give the budget, in what memory."""
    budget = args.rows // 10
    sql = [
        f"CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '{os.path.dirname(files)}/'",
        "CREATE VIEW tq AS SELECT id, v, sin(CAST(id AS DOUBLE) * 0.7) AS q FROM t",
        "SELECT count(*) AS picks, count(DISTINCT id) AS distinct_ids, count(DISTINCT odis_dim) AS clusters "
        "FROM dpp_select('tq', 'id', 'v', 'q', 0.1, 'clusters=auto')",
    ]
    answer = os.path.join(args.out, "dpp.csv")
    argv = [args.odis, "--memory-limit", args.memory_limit, "--format", "csv"] + [a for q in sql for a in ("-c", q)]
    seconds, mib, _ = measured(argv, stdout_path=answer)
    picks, distinct, clusters = (int(v) for v in open(answer).read().split()[-1].split(","))
    print(f"\n| {args.rows:,} × {args.dims}, budget 10% = {budget:,} | picks | clusters | wall | peak RSS |\n|---|---:|---:|---:|---:|")
    print(f"| dpp_select, clusters=auto | {picks:,} | {clusters:,} | {seconds:.1f} s | {mib:,.0f} MiB |")
    print(f"\nbudget {'filled' if picks == budget == distinct else 'NOT filled'} ({picks:,} of {budget:,}); "
          f"peak {mib:,.0f} MiB ({'within' if mib <= 2048 else 'over'} 2 GiB)")


def mig(args, files, labels=20_000):
    """mig_select at a budget of 10% of the rows over `labels` integer labels."""
    sql = [
        f"CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '{os.path.dirname(files)}/'",
        f"CREATE VIEW tl AS SELECT id, id % {labels} AS label, exp(sin(CAST(id AS DOUBLE) * 0.7)) AS q FROM t",
        "SELECT count(*) AS picks, count(DISTINCT odis_dim) AS labels FROM mig_select('tl', 'id', 'label', 'q', 0.1)",
    ]
    answer = os.path.join(args.out, "mig.csv")
    argv = [args.odis, "--memory-limit", args.memory_limit, "--format", "csv"] + [a for q in sql for a in ("-c", q)]
    seconds, mib, _ = measured(argv, stdout_path=answer)
    picks, used = (int(v) for v in open(answer).read().split()[-1].split(","))
    print(f"\n| {args.rows:,} rows, {labels:,} labels, budget 10% | picks | labels used | wall | peak RSS |\n|---|---:|---:|---:|---:|")
    print(f"| mig_select | {picks:,} | {used:,} | {seconds:.1f} s | {mib:,.0f} MiB |")
    print(f"\npeak {mib:,.0f} MiB ({'within' if mib <= 2048 else 'over'} 2 GiB)")


def semantic(args, files):
    """semantic_duplicates against kmeans_fit + kmeans_assign at its k, on the same vectors."""
    k = min(-(-args.rows // 1000), 1000)
    table = f"CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '{os.path.dirname(files)}/'"
    kmeans = [
        table,
        f"CREATE TABLE m AS SELECT kmeans_fit(v, {k}) AS model FROM t",
        "SELECT count(DISTINCT a['cluster']) AS used FROM (SELECT kmeans_assign(v, (SELECT model FROM m)) AS a FROM t)",
    ]
    dedup = [table, "SELECT count(*) AS duplicates, count(DISTINCT duplicate_of) AS kept FROM semantic_duplicates('t', 'id', 'v')"]
    results = {}
    for name, sql in (("kmeans_fit + kmeans_assign", kmeans), ("semantic_duplicates", dedup)):
        answer = os.path.join(args.out, "semantic.csv")
        argv = [args.odis, "--memory-limit", args.memory_limit, "--format", "csv"] + [a for q in sql for a in ("-c", q)]
        seconds, mib, _ = measured(argv, stdout_path=answer)
        results[name] = (seconds, mib, open(answer).read().split())
        print(f"{name}: {seconds:.1f} s, peak {mib:,.0f} MiB, {results[name][2][-2:]}", flush=True)
    (k_s, k_mib, _), (d_s, d_mib, _) = results["kmeans_fit + kmeans_assign"], results["semantic_duplicates"]
    print(f"\n| {args.rows:,} × {args.dims}, k = {k} | wall | peak RSS |\n|---|---:|---:|")
    print(f"| kmeans_fit + kmeans_assign | {k_s:.1f} s | {k_mib:,.0f} MiB |")
    print(f"| semantic_duplicates | {d_s:.1f} s | {d_mib:,.0f} MiB |")
    print(f"\nsemantic_duplicates / k-means: {d_s / k_s:.2f}x the time; peak {d_mib:,.0f} MiB "
          f"({'within' if d_mib <= 2048 else 'over'} 2 GiB)")


if __name__ == "__main__":
    main()
