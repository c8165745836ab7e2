"""References for tests/embedding_selection.rs, written from the papers.

`embedding_reference.py DIR` writes DIR/vectors.parquet (id, v: list<float32>,
q: float64): 3,000 embeddings around 40 topics, with 300 near copies and 30
exact copies of earlier rows mixed in; DIR/small.parquet and DIR/narrow.parquet
(400 rows, 24 and 8 dimensions) for the DPP; and DIR/expected.json with the
DPP greedy orders.

DPP (Chen, Zhang and Zhou, NeurIPS 2018): kernel L = diag(r) S diag(r), S the
cosine similarities, r = exp(alpha q), alpha = theta / (2 (1 - theta)). Greedy
MAP: each step adds the item whose addition gives the largest det(L_Y); here
by a log-determinant per candidate (numpy's slogdet), not by the paper's
incremental Cholesky, so the two are independent. The greedy stops when no
candidate keeps S_Y non-singular (its residual, det(S_{Y+i}) / det(S_Y), is
below 1e-10). The candidate pool is the best pool x budget rows by quality,
ties by smaller id.

`embedding_reference.py --semdedup CLUSTERED.parquet EPS ORDER OUT.json` applies
SemDeDup's rule (Abbas et al. 2023) to rows with their clusters and distances
to the centroid (id, cluster, distance, v): within a cluster, order by
distance (descending for ORDER=far, ascending for near; ties by id), take the
cosine similarities of every pair, and drop row j when the largest
similarity to a row before it exceeds 1 - EPS; it duplicates the earliest row
of that largest similarity. Writes [[id, duplicate_of, similarity], ...].

`embedding_reference.py --mig ROWS.parquet CENTROIDS.json BUDGET THRESHOLD
WEIGHT EXPONENT OUT.json` runs MIG's greedy (arXiv 2504.13835) over rows
(id, label, quality): the label graph from the centroids (a JSON list of
vectors; an empty list means no graph, the identity), similarities below
THRESHOLD set to 0, off-diagonal entries times WEIGHT, columns normalised to
sum 1; V[i, label_i] = quality_i, U = V P; each step picks the row of largest
U_i . phi'(x), phi'(x) = EXPONENT (x + 1e-6)^(EXPONENT - 1), and adds U_i to
x; rows in (label, -quality, id) order, so that the first of equal gains is
the lower label, then the better row. Writes [[id, label, gain], ...] in pick
order.
"""

import json
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def unit(x):
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def semdedup(path, eps, order, out):
    t = pq.read_table(path).to_pydict()
    ids = np.array(t["id"])
    cluster = np.array(t["cluster"])
    distance = np.array(t["distance"], dtype=np.float64)
    v = unit(np.array(t["v"], dtype=np.float32))
    found = []
    for c in np.unique(cluster):
        members = np.flatnonzero(cluster == c)
        key = -distance[members] if order == "far" else distance[members]
        members = members[np.lexsort((ids[members], key))]
        x = v[members]
        sims = x @ x.T
        upper = np.triu(sims, k=1)  # upper[i, j] = sim(i, j) for i < j
        for j in range(1, len(members)):
            i = int(np.argmax(upper[:j, j]))
            if upper[i, j] > 1 - eps:
                found.append([int(ids[members[j]]), int(ids[members[i]]), float(upper[i, j])])
    with open(out, "w") as f:
        json.dump(found, f)


def dpp(ids, v, q, theta, budget, pool):
    alpha = theta / (2 * (1 - theta))
    order = np.lexsort((ids, -q))[: pool * budget]
    x, q, ids = unit(v[order]), q[order], ids[order]
    s = x @ x.T
    chosen = []
    # Rounds: once no row adds to the determinant (the picks span the
    # embeddings), the same greedy starts again over the rows not chosen.
    while len(chosen) < budget:
        picked, logdet = [], 0.0
        while len(chosen) < budget:
            best = None
            for i in range(len(ids)):
                if i in chosen:
                    continue
                y = picked + [i]
                sign, value = np.linalg.slogdet(s[np.ix_(y, y)])
                if sign <= 0 or value - logdet < np.log(1e-10):
                    continue
                gain = 2 * alpha * q[i] + value - logdet
                if best is None or gain > best[1]:
                    best = (i, gain, value)
            if best is None:
                break
            picked.append(best[0])
            chosen.append(best[0])
            logdet = best[2]
        if not picked:
            break
    return [int(ids[i]) for i in chosen]


def mig(path, centroids, budget, threshold, weight, exponent, out):
    t = pq.read_table(path).to_pydict()
    ids, label, q = np.array(t["id"]), np.array(t["label"]), np.array(t["quality"], dtype=np.float64)
    order = np.lexsort((ids, -q, label))
    ids, label, q = ids[order], label[order], q[order]
    with open(centroids) as f:
        c = np.array(json.load(f), dtype=np.float32)
    if len(c):
        c = c.astype(np.float64)
        p = c @ c.T
        np.fill_diagonal(p, 1.0)
        p[p < threshold] = 0.0
        off = ~np.eye(len(c), dtype=bool)
        p[off] *= weight
        p = p / p.sum(axis=0, keepdims=True)
    else:
        p = np.eye(label.max() + 1)
    u = q[:, None] * p[label]
    x = np.zeros(p.shape[1])
    taken = np.zeros(len(ids), dtype=bool)
    picks = []
    for _ in range(budget):
        gains = u @ (exponent * (x + 1e-6) ** (exponent - 1))
        gains[taken] = -np.inf
        i = int(np.argmax(gains))
        if not gains[i] > 0:
            break
        taken[i] = True
        x += u[i]
        picks.append([int(ids[i]), int(label[i]), float(gains[i])])
    with open(out, "w") as f:
        json.dump(picks, f)


if sys.argv[1] == "--mig":
    a = sys.argv
    mig(a[2], a[3], int(a[4]), float(a[5]), float(a[6]), float(a[7]), a[8])
    sys.exit(0)

if sys.argv[1] == "--semdedup":
    semdedup(sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5])
    sys.exit(0)

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(20261203)

# Topics and rows around them; then copies of earlier rows, nearly and exactly.
d, n = 32, 3000
topics = rng.normal(size=(40, d))
rows = topics[rng.integers(0, 40, size=n)] + 0.7 * rng.normal(size=(n, d))
sources = rng.choice(n - 330, size=330, replace=False)
rows[n - 330 : n - 30] = rows[sources[:300]] + 0.01 * rng.normal(size=(300, d))
rows[n - 30 :] = rows[sources[300:]]
ids = rng.permutation(n).astype(np.int64) * 7 + 1
q = rng.normal(size=n)
vectors = pa.array(list(rows.astype(np.float32)), type=pa.list_(pa.float32()))
pq.write_table(pa.table({"id": ids, "v": vectors, "q": q}), os.path.join(out, "vectors.parquet"))

expected = {"dpp": []}

# SemDeDup on clusters of its own: scikit-learn's KMeans on the unit rows
# (k = 12), each cluster in order of distance to its unit mean, farthest
# first, and the rule above at eps = 0.05. The pairs it finds, unordered:
# they must not depend on whose clusters they were found in.
from sklearn.cluster import KMeans  # noqa: E402

x = unit(rows.astype(np.float32))
labels = KMeans(n_clusters=12, n_init=10, random_state=0).fit(x).labels_
own = []
for c in range(12):
    members = np.flatnonzero(labels == c)
    centre = unit(x[members].sum(axis=0, keepdims=True))[0]
    distance = 1.0 - x[members] @ centre
    members = members[np.lexsort((ids[members], -distance))]
    sims = x[members] @ x[members].T
    for j in range(1, len(members)):
        i = int(np.argmax(sims[:j, j]))
        if sims[i, j] > 1 - 0.05:
            own.append(sorted([int(ids[members[j]]), int(ids[members[i]])]))
expected["semdedup_own_clusters"] = {"clusters": 12, "eps": 0.05, "pairs": own}
for name, dims in [("small", 24), ("narrow", 8)]:
    m = 400
    v = rng.normal(size=(m, dims)).astype(np.float32)
    qs = rng.normal(size=m)
    small_ids = np.arange(m, dtype=np.int64) * 3 + 5
    pq.write_table(
        pa.table({"id": small_ids, "v": pa.array(list(v), type=pa.list_(pa.float32())), "q": qs}),
        os.path.join(out, f"{name}.parquet"),
    )
    cases = [(0.6, 15, 5), (0.05, 30, 100), (0.9, 20, 2)] if name == "small" else [(0.3, 20, 100)]
    for theta, budget, pool in cases:
        picks = dpp(small_ids, v.astype(np.float64), qs, theta, budget, pool)
        expected["dpp"].append({"table": name, "theta": theta, "budget": budget, "pool": pool, "picks": picks})

with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1)
