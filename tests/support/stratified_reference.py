"""Reference allocations for tests/stratified.rs, written from the papers.

CCS (Zheng et al., "Coverage-centric Coreset Selection for High Pruning
Rates", ICLR 2023, Algorithm 1): drop the beta fraction of examples with the
lowest importance score, cut the remaining score range into k strata of equal
width, then visit the strata from the smallest, each taking
min(its size, remaining budget // strata left), and sample inside each. The
range here is half-open with the maximum in the last stratum (the authors'
code widens the top edge by x1.0001, which shrinks the range when the maximum
is negative).

kMQ (Diversify and Conquer, arXiv 2409.11378): an equal quota per cluster,
min(budget / k, size); odis hands what small clusters cannot use on to the
larger ones, smallest cluster first, which is the same visit.

Writes DIR/scores.parquet (id, score, cluster) and DIR/expected.json: per case
the settings, the number of rows dropped, the last dropped row (score, id) and
the budget of every stratum or cluster.
"""

import json
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(20261202)

# 20,000 scores, mostly negative, skewed, with ties (two decimals), as PCA
# components of quality ratings look; ids shuffled so that id order is not
# score order.
n = 20_000
score = np.round(-3.0 + rng.gamma(2.0, 0.6, size=n) - 0.5 * (rng.random(n) < 0.1), 2)
ids = rng.permutation(n).astype(np.int64) * 3 + 11
# Clusters of very unequal sizes (Zipf-like), some tiny.
cluster = np.minimum(rng.zipf(1.6, size=n) - 1, 39).astype(np.int32)
pq.write_table(pa.table({"id": ids, "score": score, "cluster": cluster}), os.path.join(out, "scores.parquet"))


def allocate(budget, sizes):
    """The paper's allocation: strata visited by size, smallest first (ties:
    lower index, a stable sort), each taking min(size, left // strata left)."""
    order = np.argsort(np.asarray(sizes), kind="stable")
    budgets = [0] * len(sizes)
    left = budget
    for visited, s in enumerate(order):
        take = min(int(sizes[s]), left // (len(sizes) - visited))
        budgets[int(s)] = take
        left -= take
    return budgets


def ccs(beta, strata, budget):
    order = np.lexsort((ids, score))  # by score, then id
    dropped = int(np.floor(beta * n))
    kept = order[dropped:]
    low, high = score[kept].min(), score[kept].max()
    if high > low:
        stratum = np.minimum(np.floor((score[kept] - low) / (high - low) * strata), strata - 1).astype(int)
    else:
        stratum = np.zeros(len(kept), dtype=int)
    sizes = np.bincount(stratum, minlength=strata)
    last = order[dropped - 1] if dropped else None
    return {
        "beta": beta,
        "strata": strata,
        "budget": budget,
        "dropped": dropped,
        "last_dropped": None if last is None else [float(score[last]), int(ids[last])],
        "budgets": allocate(budget, sizes),
    }


def kmq(budget):
    sizes = np.bincount(cluster, minlength=cluster.max() + 1)
    return {"budget": budget, "budgets": allocate(budget, sizes)}


expected = {
    "rows": n,
    "ccs": [ccs(0.3, 50, 2000), ccs(0.0, 50, 2000), ccs(0.7, 50, 1500), ccs(0.5, 7, 9000)],
    "kmq": [kmq(2000), kmq(300), kmq(19_000)],
}
with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1)
