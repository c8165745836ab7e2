"""scikit-learn's k-means inertia of one column of vectors, for the opt-in
test of kmeans_fit on real embeddings in tests/clustering.rs.

Usage: python tests/support/kmeans_inertia.py PARQUET COLUMN K OUT_JSON
Writes {"inertia": ...} of KMeans(n_clusters=K, n_init=10, random_state=0).
"""

import json
import sys

import numpy as np
import pyarrow.parquet as pq
from sklearn.cluster import KMeans

path, column, k, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
x = np.array(pq.read_table(path, columns=[column]).column(column).to_pylist(), dtype=np.float64)
model = KMeans(n_clusters=k, n_init=10, random_state=0).fit(x)
with open(out, "w") as f:
    json.dump({"inertia": float(model.inertia_), "rows": len(x)}, f)
