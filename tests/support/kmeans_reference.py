"""Reference k-means inertias for tests/clustering.rs, from scikit-learn.

Writes DIR/<case>.parquet (columns: id, v: list<float32>) and
DIR/expected.json: per case, k and the inertia of scikit-learn's
`KMeans(n_clusters=k, n_init=10, random_state=0)` over all rows (the sum of
squared Euclidean distances to the nearest centroid), which odis's
kmeans_fit with metric=l2 must come within 2% of; and `cosine`, the best
spherical k-means objective (the sum over rows of 1 − cosine similarity to
the unit mean of their cluster) of two independent fits on the normalised
rows: scikit-learn's KMeans (its partition, scored spherically) and a
spherical k-means in NumPy (Dhillon and Modha's Lloyd steps from 10
k-means++ starts), which metric=cosine must come within 2% of.
"""

import json
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.cluster import KMeans, kmeans_plusplus

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(20261201)


def blobs(n, d, clusters, spread):
    """Overlapping clusters of unequal size and spread."""
    centres = rng.normal(size=(clusters, d))
    weights = rng.dirichlet(5 * np.ones(clusters))
    labels = rng.choice(clusters, size=n, p=weights)
    scales = spread * rng.uniform(0.5, 1.5, size=clusters)
    return centres[labels] + scales[labels, None] * rng.normal(size=(n, d))


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


cases = {
    # Well separated, few clusters.
    "blobs_5000x32_k10": (blobs(5000, 32, 10, 0.3), 10),
    # Overlapping, more clusters than the data has.
    "overlap_4000x64_k40": (blobs(4000, 64, 25, 0.8), 40),
    # Unit vectors in 384 dimensions, as sentence embeddings are.
    "unit_3000x384_k16": (unit(np.abs(blobs(3000, 384, 12, 0.6)) + 0.05), 16),
}

def spherical_objective(x, labels, k):
    """Σ (1 − x·ĉ) over rows, ĉ the unit mean of each row's cluster."""
    total = 0.0
    for c in range(k):
        rows = x[labels == c]
        if len(rows):
            total += len(rows) - np.linalg.norm(rows.sum(axis=0))
    return total


def spherical_kmeans(x, k, starts=10, iterations=100):
    """Lloyd steps with unit means, from k-means++ starts; the best objective."""
    best = np.inf
    for seed in range(starts):
        centres, _ = kmeans_plusplus(x, k, random_state=seed)
        centres = unit(centres)
        for _ in range(iterations):
            labels = np.argmax(x @ centres.T, axis=1)
            moved = centres.copy()
            for c in range(k):
                rows = x[labels == c]
                if len(rows):
                    moved[c] = unit(rows.sum(axis=0, keepdims=True))[0]
            if np.allclose(moved, centres, atol=1e-9):
                break
            centres = moved
        best = min(best, spherical_objective(x, np.argmax(x @ centres.T, axis=1), k))
    return best


expected = {}
for name, (x, k) in cases.items():
    x = x.astype(np.float32)
    ids = pa.array(range(len(x)), pa.int64())
    pq.write_table(pa.table({"id": ids, "v": pa.array(list(x), pa.list_(pa.float32()))}), os.path.join(out, f"{name}.parquet"))
    model = KMeans(n_clusters=k, n_init=10, random_state=0).fit(x.astype(np.float64))
    normalised = unit(x.astype(np.float64))
    anchor = KMeans(n_clusters=k, n_init=10, random_state=0).fit(normalised)
    cosine = min(spherical_objective(normalised, anchor.labels_, k), spherical_kmeans(normalised, k))
    expected[name] = {"k": k, "inertia": float(model.inertia_), "cosine": float(cosine)}

with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump({"cases": expected}, f, indent=1)
