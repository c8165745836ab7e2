"""Side-by-side timings and peak memory: odis next to a bare scan and next to DuckDB,
on the same Parquet file, in one run.

    python benches/side_by_side.py pca        [--rows 10000000]
    python benches/side_by_side.py selection  [--rows 10000000]

Each measurement is a separate process timed by /usr/bin/time (wall seconds and peak
resident memory). odis is the release binary (scripts/run.sh builds it; or pass --odis).
DuckDB comes from PyPI (`pip install duckdb`; this script installs it into the running
Python when missing). Data files are generated once into --data-dir.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def ensure_duckdb():
    try:
        import duckdb  # noqa: F401
    except ImportError:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "duckdb==2.0.1"])


def measure(label, argv, env=None):
    """Runs argv under /usr/bin/time; returns (label, seconds, peak MiB)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        cmd = ["/usr/bin/time", "-f", "%e %M", "-o", t.name] + argv
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        if proc.returncode != 0:
            sys.exit(f"{label} failed:\n{proc.stderr}")
        seconds, kib = t.read().split()
    result = (label, float(seconds), int(kib) / 1024)
    print(f"  {label:<48} {result[1]:8.2f} s {result[2]:9.0f} MiB", flush=True)
    return result


def duckdb_run(sql):
    return [sys.executable, "-c", f"import duckdb; print(duckdb.sql({sql!r}).fetchall())"]


def odis_run(odis, sql):
    return [odis, "-q", "--format", "csv", "-c", sql]


def pca_data(path, rows):
    if os.path.exists(path):
        return
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(1)
    writer = None
    for start in range(0, rows, 1_000_000):
        n = min(1_000_000, rows - start)
        latent = rng.normal(size=(n, 3))
        mix = rng.normal(size=(3, 11))
        x = (latent @ mix + 0.3 * rng.normal(size=(n, 11))).astype(np.float32)
        columns = {"id": np.arange(start + 1, start + n + 1, dtype=np.int64)}
        columns.update({f"c{j}": x[:, j] for j in range(11)})
        table = pa.table(columns)
        writer = writer or pq.ParquetWriter(path + ".tmp", table.schema)
        writer.write_table(table, row_group_size=1_000_000)
    writer.close()
    os.replace(path + ".tmp", path)


def selection_data(path, rows):
    if os.path.exists(path):
        return
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(2)
    writer = None
    for start in range(0, rows, 1_000_000):
        n = min(1_000_000, rows - start)
        ids = np.arange(start + 1, start + n + 1, dtype=np.int64)
        pc = rng.normal(size=(n, 4))
        offsets = pa.array(np.arange(0, 4 * n + 1, 4, dtype=np.int32))
        table = pa.table({
            "id": ids,
            "pc": pa.ListArray.from_arrays(offsets, pa.array(pc.reshape(-1))),
            "body": pa.array([f"document number {i}" for i in ids]),
        })
        writer = writer or pq.ParquetWriter(path + ".tmp", table.schema)
        writer.write_table(table, row_group_size=500_000)
    writer.close()
    os.replace(path + ".tmp", path)


def report(results, baselines):
    print()
    for base in baselines:
        base_seconds = next(r[1] for r in results if r[0] == base)
        for label, seconds, _ in results:
            if label != base:
                print(f"  {label:<48} {seconds / base_seconds:6.2f}x  {base}")
        print()


DUCKDB_PCA_PIPELINE = """
import duckdb, numpy as np
path, k, top = {path!r}, 4, {top}
cols = [f"c{{j}}" for j in range(11)]
con = duckdb.connect()
# The fit: means, standard deviations and the 66 covariances in one scan.
aggs = [f"avg({{c}})" for c in cols] + [f"stddev_pop({{c}})" for c in cols]
aggs += [f"covar_pop({{a}}, {{b}})" for i, a in enumerate(cols) for b in cols[i:]]
row = con.sql(f"SELECT {{', '.join(aggs)}} FROM '{{path}}'").fetchall()[0]
mean, std = np.array(row[:11]), np.array(row[11:22])
cov, it = np.zeros((11, 11)), iter(row[22:])
for i in range(11):
    for j in range(i, 11):
        cov[i, j] = cov[j, i] = next(it)
corr = cov / np.outer(std, std)
values, vectors = np.linalg.eigh(corr)
w = vectors[:, np.argsort(values)[::-1][:k]].T
# Project every row and take the top of each component (window functions).
proj = ", ".join(
    "(" + " + ".join(f"({{c}} - {{float(mean[j])!r}}) / {{float(std[j])!r}} * {{float(w[p, j])!r}}" for j, c in enumerate(cols)) + f") AS p{{p}}"
    for p in range(k)
)
unpivot = ", ".join(f"p{{p}}" for p in range(k))
if {topn}:
    # Top-N: each component's ORDER BY ... LIMIT over the projected table.
    con.sql(f"CREATE TEMP TABLE p AS SELECT id, {{proj}} FROM '{{path}}'")
    tops = " UNION ALL ".join(f"(SELECT id FROM p ORDER BY p{{p}} DESC, id LIMIT {{top}})" for p in range(k))
    sql = f"SELECT count(*) FROM ({{tops}})"
else:
    sql = (f"WITH p AS (SELECT id, {{proj}} FROM '{{path}}'), "
           f"s AS (SELECT id, unnest(range({{k}})) AS d, unnest([{{unpivot}}]) AS score FROM p), "
           f"r AS (SELECT d, id, row_number() OVER (PARTITION BY d ORDER BY score DESC, id) AS rk FROM s) "
           f"SELECT count(*) FROM r WHERE rk <= {{top}}")
print(con.sql(sql).fetchall())
"""


def bench_pca(args):
    path = os.path.join(args.data_dir, f"pca-ids-{args.rows}.parquet")
    pca_data(path, args.rows)
    cols = ", ".join(f"c{j}" for j in range(11))
    sums = " + ".join(f"sum(c{j})" for j in range(11))
    pairs = ", ".join(f"covar_pop(c{i}, c{j})" for i in range(11) for j in range(i, 11))
    print(f"PCA: {args.rows:,} rows x 11 Float32 columns ({os.path.getsize(path) / 2**20:.0f} MiB of Parquet)")
    results = [
        measure("DuckDB: scan + sum", duckdb_run(f"SELECT {sums} FROM '{path}'")),
        measure("DuckDB: covariance matrix (66 covar_pop)", duckdb_run(f"SELECT {pairs} FROM '{path}'")),
        measure("odis: scan + sum", odis_run(args.odis, f"SELECT {sums} FROM '{path}'")),
        measure("odis: pca_fit", odis_run(args.odis, f"SELECT pca_fit(make_array({cols}), 4)['n_rows'] FROM '{path}'")),
        measure(
            "odis: pca_fit + pca_project, model by CROSS JOIN",
            odis_run(
                args.odis,
                f"WITH m AS (SELECT pca_fit(make_array({cols}), 4) AS model FROM '{path}') "
                f"SELECT sum(pc[1]), sum(pc[4]) FROM (SELECT pca_project(make_array({cols}), m.model) AS pc FROM '{path}', m)",
            ),
        ),
        measure(
            "odis: pca_fit + pca_project, model by subquery",
            odis_run(
                args.odis,
                f"CREATE TABLE m AS SELECT pca_fit(make_array({cols}), 4) AS model FROM '{path}'; "
                f"SELECT sum(pc[1]), sum(pc[4]) FROM (SELECT pca_project(make_array({cols}), (SELECT model FROM m)) AS pc FROM '{path}')",
            ),
        ),
    ]
    # The whole step: fit, project every row, top 100,000 of each of 4
    # components (per 10M rows), side by side.
    top = max(1, args.rows // 100)
    results.append(
        measure(
            f"DuckDB: fit + project + top {top:,} per component",
            [sys.executable, "-c", DUCKDB_PCA_PIPELINE.format(path=path, top=top, topn=False)],
        )
    )
    results.append(
        measure(
            f"DuckDB: the same, top-N (ORDER BY LIMIT) per component",
            [sys.executable, "-c", DUCKDB_PCA_PIPELINE.format(path=path, top=top, topn=True)],
        )
    )
    results.append(
        measure(
            f"odis: fit + project + top {top:,} per component",
            odis_run(
                args.odis,
                f"CREATE TABLE m AS SELECT pca_fit(make_array({cols}), 4, true) AS model FROM '{path}'; "
                f"CREATE TABLE p AS SELECT id, pca_project(make_array({cols}), (SELECT model FROM m)) AS pc FROM '{path}'; "
                f"SELECT count(*) FROM top_k_per_dim('p', 'id', 'pc', {4 * top})",
            ),
        )
    )
    half = os.path.join(args.data_dir, f"pca-ids-{args.rows // 2}.parquet")
    pca_data(half, args.rows // 2)
    results.append(
        measure(f"odis: pca_fit, half the rows", odis_run(args.odis, f"SELECT pca_fit(make_array({cols}), 4)['n_rows'] FROM '{half}'"))
    )
    report(results, ["odis: scan + sum", f"DuckDB: fit + project + top {top:,} per component",
                     "DuckDB: the same, top-N (ORDER BY LIMIT) per component"])


def bench_selection(args):
    path = os.path.join(args.data_dir, f"selection-{args.rows}.parquet")
    selection_data(path, args.rows)
    print(f"Selection: {args.rows:,} rows x 4 dims ({os.path.getsize(path) / 2**20:.0f} MiB of Parquet)")
    k10, k1 = args.rows // 40, args.rows // 400  # per dimension, for 10% and 1%
    window = (
        "WITH s AS (SELECT id, body, unnest(generate_series(1, 4)) AS d, unnest(pc) AS score FROM '{p}'), "
        "r AS (SELECT *, row_number() OVER (PARTITION BY d ORDER BY score DESC, id) AS rk FROM s) "
        "SELECT count(*), sum(length(body)) FROM r WHERE rk <= {k}"
    )
    register = f"CREATE EXTERNAL TABLE docs STORED AS PARQUET LOCATION '{path}'"
    results = [
        measure("DuckDB: scan of id + scores", duckdb_run(f"SELECT count(id), sum(list_sum(pc)) FROM '{path}'")),
        measure("DuckDB: per-dimension top 10% (window functions)", duckdb_run(window.format(p=path, k=k10))),
        measure("odis: scan of id + scores", odis_run(args.odis, f"SELECT count(id), sum(pc[1] + pc[2] + pc[3] + pc[4]) FROM '{path}'")),
        measure(
            "odis: top_k_per_dim 10%",
            [args.odis, "-q", "--format", "csv", "-c", register, "-c", "SELECT count(*), sum(length(body)) FROM top_k_per_dim('docs', 'id', 'pc', 0.1)"],
        ),
        measure(
            "odis: top_k_per_dim 1%",
            [args.odis, "-q", "--format", "csv", "-c", register, "-c", "SELECT count(*), sum(length(body)) FROM top_k_per_dim('docs', 'id', 'pc', 0.01)"],
        ),
    ]
    report(results, ["odis: scan of id + scores", "DuckDB: per-dimension top 10% (window functions)"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["pca", "selection"])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--data-dir", default=os.path.expanduser("~/.cache/odis/bench"))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/odis/target"))
    parser.add_argument("--odis", default=os.path.join(target, "release", "odis"))
    args = parser.parse_args()
    if not os.path.exists(args.odis):
        sys.exit(f"{args.odis} not found: build it with `cargo build --release` (or pass --odis)")
    if not shutil.which("/usr/bin/time"):
        sys.exit("/usr/bin/time is needed (Debian package `time`)")
    os.makedirs(args.data_dir, exist_ok=True)
    ensure_duckdb()
    {"pca": bench_pca, "selection": bench_selection}[args.what](args)


if __name__ == "__main__":
    main()
