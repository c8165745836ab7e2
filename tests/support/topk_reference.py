"""Reference selections for odis's top_k_per_dim tests: an independent, naive
implementation of the documented semantics (full sorts, no heaps), on
adversarial tables.

Writes, into OUTDIR, one Parquet table per case (id, scores, payload) and
`expected.json` with each case's arguments, its selection (id, dim, rank, score in
output order) and its report.

Usage: python tests/support/topk_reference.py OUTDIR
"""

import json
import math
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def quotas(budget, weights):
    total = sum(weights)
    shares = [budget * w / total for w in weights]
    q = [math.floor(s) for s in shares]
    remaining = budget - sum(q)
    order = sorted(range(len(weights)), key=lambda d: (-(shares[d] - math.floor(shares[d])), d))
    for d in order[:remaining]:
        q[d] += 1
    return q


def select(ids, vectors, budget, weights):
    dims = len(weights)
    # Candidates of d: non-NULL vector, finite d-th score; score desc, id asc.
    cands = []
    for d in range(dims):
        rows = [(v[d], i) for i, v in zip(ids, vectors) if v is not None and v[d] is not None and math.isfinite(v[d])]
        rows.sort(key=lambda r: (-r[0], r[1]))
        cands.append(rows)
    q = quotas(budget, weights)
    taken, picks, count, pos = set(), [], [0] * dims, [0] * dims

    def take(d):
        while pos[d] < len(cands[d]):
            score, i = cands[d][pos[d]]
            pos[d] += 1
            if i not in taken:
                taken.add(i)
                count[d] += 1
                picks.append((i, d, count[d], score))
                return True
        return False

    while True:
        progress = False
        for d in range(dims):
            if count[d] < q[d] and take(d):
                progress = True
        if not progress:
            break
    while len(picks) < budget:
        progress = False
        for d in range(dims):
            if len(picks) >= budget:
                break
            if take(d):
                progress = True
        if not progress:
            break

    raw = [set(i for _, i in cands[d][: q[d]]) for d in range(dims)]
    report = []
    for d in range(dims):
        mine = [p for p in picks if p[1] == d]
        others = set().union(*(raw[e] for e in range(dims) if e != d))
        overlap = len(raw[d] & others)
        report.append({
            "dim": d, "quota": q[d], "selected": len(mine),
            "threshold": min((p[3] for p in mine), default=None),
            "overlap": overlap, "overlap_ratio": overlap / q[d] if q[d] else None,
        })
    picks.sort(key=lambda p: (p[1], p[2]))
    return picks, report


def write(out, name, ids, vectors, id_type=pa.int64()):
    order = np.random.default_rng(len(ids)).permutation(len(ids))  # rows not in id order
    scores = pa.array([vectors[i] for i in order], type=pa.list_(pa.float64()))
    table = pa.table({
        "id": pa.array([ids[i] for i in order], type=id_type),
        "scores": scores,
        "payload": pa.array([f"document {ids[i]} " + "text " * (i % 7) for i in order]),
    })
    pq.write_table(table, os.path.join(out, f"{name}.parquet"), row_group_size=997)


def main(out):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(4)
    cases = []

    def case(name, ids, vectors, budget, weights=None, id_type=pa.int64(), budget_sql=None):
        dims = len(next(v for v in vectors if v is not None))
        w = weights or [1.0] * dims
        b = budget if isinstance(budget, int) else math.floor(budget * len(ids))
        picks, report = select(ids, vectors, b, w)
        write(out, name, ids, vectors, id_type)
        cases.append({
            "name": name, "table": f"{name}.parquet", "budget": budget_sql or str(budget),
            "weights": None if weights is None else "[" + ", ".join(repr(float(x)) for x in weights) + "]",
            "picks": [[p[0], p[1], p[2], p[3]] for p in picks], "report": report,
        })

    def vectors_from(matrix, null_rows=(), nan_frac=0.0):
        vs = []
        for r, row in enumerate(matrix):
            if r in null_rows:
                vs.append(None)
                continue
            v = [float(x) for x in row]
            for j in range(len(v)):
                if nan_frac and rng.random() < nan_frac:
                    v[j] = float("nan")
            vs.append(v)
        return vs

    n = 5000
    ties = np.round(rng.normal(size=(n, 4)), 1)
    case("ties", list(range(1, n + 1)), vectors_from(ties), 500)

    n = 3000
    m = rng.normal(size=(n, 3))
    case("nan_null", [i * 7 + 3 for i in range(n)], vectors_from(m, null_rows=set(range(0, n, 33)), nan_frac=0.05), 0.1)

    n = 20000
    base = rng.normal(size=(n, 1))
    corr = base + 0.05 * rng.normal(size=(n, 4))
    case("correlated", list(range(n, 0, -1)), vectors_from(corr), 4000)

    n = 1000
    m = rng.normal(size=(n, 3))
    m[50:, 2] = np.nan  # dimension 2 has only 50 candidates for a quota of 450
    case("second_phase", list(range(1, n + 1)), vectors_from(m), 900, weights=[1, 1, 2])

    n = 1200
    m = np.round(rng.normal(size=(n, 2)), 2)
    case("string_ids", [f"doc-{(i * 7919) % 100000:05d}" for i in range(n)], vectors_from(m), 101,
         weights=[3, 1], id_type=pa.string())

    n = 800
    m = rng.normal(size=(n, 3))
    case("zero_weight", list(range(1, n + 1)), vectors_from(m), 60, weights=[0, 1, 1])

    n = 600
    m = rng.normal(size=(n, 2))
    case("budget_exceeds_candidates", list(range(1, n + 1)),
         vectors_from(m, null_rows=set(range(0, n, 3))), 5000)

    with open(os.path.join(out, "expected.json.tmp"), "w") as f:
        json.dump({"cases": cases}, f)
    os.replace(os.path.join(out, "expected.json.tmp"), os.path.join(out, "expected.json"))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
