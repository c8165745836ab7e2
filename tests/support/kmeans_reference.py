"""Reference k-means inertias for tests/clustering.rs, from scikit-learn.

Writes DIR/<case>.parquet (columns: id, v: list<float32>) and
DIR/expected.json: per case, k and the inertia of scikit-learn's
`KMeans(n_clusters=k, n_init=10, random_state=0)` over all rows (the sum of
squared Euclidean distances to the nearest centroid), which odis's
kmeans_fit with metric=l2 must come within 2% of.
"""

import json
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.cluster import KMeans

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

expected = {}
for name, (x, k) in cases.items():
    x = x.astype(np.float32)
    ids = pa.array(range(len(x)), pa.int64())
    pq.write_table(pa.table({"id": ids, "v": pa.array(list(x), pa.list_(pa.float32()))}), os.path.join(out, f"{name}.parquet"))
    model = KMeans(n_clusters=k, n_init=10, random_state=0).fit(x.astype(np.float64))
    expected[name] = {"k": k, "inertia": float(model.inertia_)}

with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump({"cases": expected}, f, indent=1)
