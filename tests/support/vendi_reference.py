"""Reference Vendi scores for tests/diversity.rs, from the Vendi Score
authors' package (vendi-score on PyPI).

Writes DIR/<case>.parquet (columns: id, v: list<float32 or float64>) and
DIR/expected.json: per case and order q, `score_dual(X, q)` (the d x d dual
with the cosine kernel, which is what vendi_score computes) and, for the
smaller cases, `score_K` of the N x N cosine kernel, which must agree.
"""

import json
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn import preprocessing
from vendi_score import vendi

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(20240923)


def clustered(n, d, clusters, spread):
    centres = rng.normal(size=(clusters, d))
    return centres[rng.integers(0, clusters, n)] + spread * rng.normal(size=(n, d))


cases = {
    # More rows than dimensions, as for a selection's embeddings.
    "gaussian_2000x32": (rng.normal(size=(2000, 32)), pa.float32()),
    # Fewer rows than dimensions: K and the dual share the non-zero eigenvalues.
    "gaussian_20x64": (rng.normal(size=(20, 64)), pa.float64()),
    # Few directions with noise: a low score.
    "clustered_3000x16": (clustered(3000, 16, 4, 0.05), pa.float32()),
    # Positive entries (as ReLU or mean-pooled embeddings often are).
    "positive_500x384": (np.abs(rng.normal(size=(500, 384))) + 0.1, pa.float32()),
}

expected = {}
for name, (x, dtype) in cases.items():
    # The vectors as the test will read them (float32 cases are rounded first).
    x = np.asarray(pa.array(list(x), pa.list_(dtype)).to_pylist(), dtype=np.float64)
    ids = pa.array(range(len(x)), pa.int64())
    pq.write_table(pa.table({"id": ids, "v": pa.array(list(x), pa.list_(dtype))}), os.path.join(out, f"{name}.parquet"))
    scores = {str(q): float(vendi.score_dual(x, q=q)) for q in [1, 2, 0.5, "inf"]}
    if len(x) <= 600:
        xn = preprocessing.normalize(x, axis=1)
        scores["K_1"] = float(vendi.score_K(xn @ xn.T, q=1))
        scores["K_2"] = float(vendi.score_K(xn @ xn.T, q=2))
    expected[name] = scores

with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump({"cases": expected}, f, indent=1)
