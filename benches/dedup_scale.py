"""near_duplicates at corpus scale: peak memory against the number of
documents, under one memory limit, with the clusters checked against a
reference.

    python benches/dedup_scale.py --out /data/dedup-scale [--sizes 1M,4M,16M] [--odis PATH] [--baseline OLD_ODIS]

For each size it writes (once; kept in --out) packed 8-bit MinHash signatures
(112 bytes, FineWeb's 14 bands x 8 rows) of that many documents, 10% of them
near copies of others: most originals copied once or twice, a few a hundred
times or more (crowded band buckets, as templates and boilerplate make them),
each copy with about 5% of its values changed. Then, each in its own process,
it runs

    SELECT count(*) FROM near_duplicates('s', 'id', 'sig', 'bits=8')

under --memory-limit 512M and prints the wall time and peak RSS, the ratios
the targets are set on (peak at the largest size against the smallest), and,
at the sizes up to --check (default 1M), whether odis's clusters equal those a
reference union-find in Python makes from the same verified pairs: within each
band key, in id order, each row checked against the key's first 2
rows and its 6 predecessors, kept at an estimated Jaccard similarity of at
least 0.8. With --baseline, the same query by another odis build runs beside
it at each size (both in one run, so their times compare).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cluster import free_port, wait_for
from scale import measured

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BANDS, ROWS, BITS, THRESHOLD = 14, 8, 8, 0.8
WIDTH = BANDS * ROWS
FIRSTS, NEIGHBOURS = 2, 6


def size(text):
    text = text.strip().upper()
    for suffix, scale in (("K", 10**3), ("M", 10**6)):
        if text.endswith(suffix):
            return int(float(text[:-1]) * scale)
    return int(text)


def signatures(n, seed=7):
    """n signatures (n x 112 uint8), 10% of them near copies."""
    rng = np.random.default_rng(seed)
    sigs = rng.integers(0, 256, size=(n, WIDTH), dtype=np.uint8)
    copies = n // 10
    # A few originals crowd their buckets with a hundred or more copies; the
    # rest are copied once or twice.
    crowded = rng.choice(n - copies, size=max(1, copies // 2000), replace=False)
    originals = np.concatenate([np.repeat(crowded, 150), rng.integers(0, n - copies, size=copies)])[:copies]
    rng.shuffle(originals)
    sigs[n - copies:] = sigs[originals]
    changed = rng.random((copies, WIDTH)) < 0.05
    noise = rng.integers(0, 256, size=(copies, WIDTH), dtype=np.uint8)
    sigs[n - copies:][changed] = noise[changed]
    # Ids in random order, so copies are not the largest ids.
    ids = rng.permutation(n).astype(np.int64) + 1
    return ids, sigs


def write(path, ids, sigs):
    binary = pa.FixedSizeBinaryArray.from_buffers(pa.binary(WIDTH), len(ids), [None, pa.py_buffer(sigs.tobytes())])
    table = pa.table({"id": pa.array(ids), "sig": binary})
    pq.write_table(table, path, row_group_size=1 << 16)


def similarity(a, b):
    """The corrected estimate of near_duplicates, row by row."""
    equal = (a == b).sum(axis=1) / WIDTH
    chance = 0.5 ** BITS
    return np.clip((equal - chance) / (1 - chance), 0.0, 1.0)


def reference(ids, sigs):
    """The duplicates of the same rule, by a union-find over its pairs: id -> cluster's smallest id."""
    parent = {}

    def root(x):
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    for band in range(BANDS):
        keys = np.ascontiguousarray(sigs[:, band * ROWS:(band + 1) * ROWS]).view(np.uint64).ravel()
        order = np.lexsort((ids, keys))
        k, s, i = keys[order], sigs[order], ids[order]
        start = np.r_[0, np.flatnonzero(k[1:] != k[:-1]) + 1]
        first = np.repeat(start, np.diff(np.r_[start, len(k)]))
        rank = np.arange(len(k)) - first
        pairs = []
        for n in range(FIRSTS):
            at = first + n
            ok = rank > n
            pairs.append((np.flatnonzero(ok), at[ok]))
        for back in range(1, NEIGHBOURS + 1):
            ok = rank > back + FIRSTS - 1
            here = np.flatnonzero(ok)
            pairs.append((here, here - back))
        for a, b in pairs:
            keep = similarity(s[a], s[b]) >= THRESHOLD
            for x, y in zip(i[a[keep]].tolist(), i[b[keep]].tolist()):
                rx, ry = root(x), root(y)
                if rx != ry:
                    parent[max(rx, ry)] = min(rx, ry)
    return {x: root(x) for x in list(parent) if root(x) != x}


def odis_clusters(odis, path):
    sql = (f"CREATE EXTERNAL TABLE s STORED AS PARQUET LOCATION '{path}'; "
           "SELECT id, duplicate_of FROM near_duplicates('s', 'id', 'sig', 'bits=8')")
    out = subprocess.run([odis, "-q", "--format", "csv", "-c", sql], capture_output=True, text=True, check=True).stdout
    return {int(a): int(b) for a, b in (line.split(",") for line in out.splitlines()[1:] if line)}


def on_cluster(args, n, executors=2):
    """The query at n documents through a loopback cluster: the client's wall time and peak RSS."""
    path = os.path.join(args.out, f"signatures-{n}.parquet")
    if not os.path.exists(path):
        sys.exit(f"{path}: run this size locally first (--sizes)")
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        procs = [subprocess.Popen([args.odis, "scheduler", "--bind", f"127.0.0.1:{port}"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
        try:
            wait_for(port, procs[0], "odis scheduler")
            for e in range(executors):
                flight = free_port()
                procs.append(subprocess.Popen(
                    [args.odis, "executor", "--scheduler", f"127.0.0.1:{port}",
                     "--bind", f"127.0.0.1:{flight}", "--work-dir", os.path.join(tmp, f"executor-{e}")],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                wait_for(flight, procs[-1], "odis executor")
            sql = (f"CREATE EXTERNAL TABLE s STORED AS PARQUET LOCATION '{path}'; "
                   "SELECT count(*) AS duplicates FROM near_duplicates('s', 'id', 'sig', 'bits=8')")
            with tempfile.NamedTemporaryFile("r", suffix=".csv") as answer:
                seconds, mib, _ = measured([args.odis, "-q", "--format", "csv", "--memory-limit", args.memory_limit,
                                            "--cluster", f"df://127.0.0.1:{port}", "-c", sql], stdout_path=answer.name)
                found = answer.read().splitlines()[-1]
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait()
    print(f"{n:>11,} documents, odis on {executors} executors: {seconds:.1f} s, client peak {mib:.0f} MiB, "
          f"{found} duplicates", flush=True)
    return (n, f"cluster client ({executors} executors)", seconds, mib, int(found))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    parser.add_argument("--odis", default=os.path.join(target, "release", "odis"))
    parser.add_argument("--baseline", help="another odis build, timed beside it")
    parser.add_argument("--out", required=True, help="where the signature files are kept")
    parser.add_argument("--sizes", default="1M,4M,16M")
    parser.add_argument("--check", default="1M", help="the largest size checked against the Python reference")
    parser.add_argument("--memory-limit", default="512M")
    parser.add_argument("--cluster-size", help="also run at this size on a scheduler + 2 executors (client RSS)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for n in [size(s) for s in args.sizes.split(",")]:
        path = os.path.join(args.out, f"signatures-{n}.parquet")
        if not os.path.exists(path):
            started = time.time()
            ids, sigs = signatures(n)
            write(path, ids, sigs)
            print(f"wrote {path} in {time.time() - started:.0f} s", flush=True)
        sql = (f"CREATE EXTERNAL TABLE s STORED AS PARQUET LOCATION '{path}'; "
               "SELECT count(*) AS duplicates FROM near_duplicates('s', 'id', 'sig', 'bits=8')")
        builds = [("odis", args.odis)] + ([("baseline", args.baseline)] if args.baseline else [])
        for name, binary in builds:
            with tempfile.NamedTemporaryFile("r", suffix=".csv") as answer:
                seconds, mib, cpu = measured([binary, "-q", "--format", "csv", "--memory-limit", args.memory_limit, "-c", sql],
                                             stdout_path=answer.name)
                found = answer.read().splitlines()[-1]
            print(f"{n:>11,} documents, {name}: {seconds:.1f} s, peak {mib:.0f} MiB, {found} duplicates", flush=True)
            rows.append((n, name, seconds, mib, int(found)))
        if n <= size(args.check):
            ids, sigs = signatures(n)
            want = reference(ids, sigs)
            got = odis_clusters(args.odis, path)
            same = want == got
            print(f"{n:>11,} documents: the reference flags {len(want):,}, odis {len(got):,}; clusters "
                  f"{'equal' if same else 'DIFFER'}", flush=True)
            if not same:
                missing = [k for k in want if want[k] != got.get(k)][:5]
                extra = [k for k in got if got[k] != want.get(k)][:5]
                print(f"  e.g. reference only {missing}, odis only {extra}", file=sys.stderr)
    if args.cluster_size:
        rows.append(on_cluster(args, size(args.cluster_size)))
    print(f"\n| documents | build | wall | peak RSS | duplicates |\n|---:|---|---:|---:|---:|")
    for n, name, seconds, mib, found in rows:
        print(f"| {n:,} | {name} | {seconds:.1f} s | {mib:,.0f} MiB | {found:,} |")
    odis_rows = [r for r in rows if r[1] == "odis"]
    if len(odis_rows) > 1:
        small, large = odis_rows[0], odis_rows[-1]
        print(f"\npeak at {large[0]:,} / peak at {small[0]:,}: {large[3] / small[3]:.2f}x")
    for n in sorted({r[0] for r in rows}):
        pair = {r[1]: r for r in rows if r[0] == n}
        if "baseline" in pair:
            print(f"{n:,} documents: time / baseline {pair['odis'][2] / pair['baseline'][2]:.2f}x, "
                  f"peak / baseline {pair['odis'][3] / pair['baseline'][3]:.2f}x")


if __name__ == "__main__":
    main()
