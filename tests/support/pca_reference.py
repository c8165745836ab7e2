"""Reference PCA results for odis's pca_fit / pca_project tests, from scikit-learn.

Writes Parquet tables and `expected.json` into OUTDIR:
  - wine (178 x 13) and breast_cancer (569 x 30): real tables bundled with scikit-learn,
    with a few NULL vectors and NaN/inf rows added (pca_fit must skip them);
  - wine_f32: wine as List<Float32> (the reference uses the same rounded values);
  - synthetic: 1,000,000 x 11, ill-conditioned: a large common offset (1e4), small and
    very unequal variances (eigenvalues spread over 5 orders of magnitude), strong
    correlations; written both as one file and split into 4 files.
Each case holds sklearn's PCA(n_components=k).fit(StandardScaler().fit_transform(X))
(or of X when standardize is false), with odis's sign rule applied, and the projections
of some rows (by id).

Usage: python tests/support/pca_reference.py OUTDIR
"""

import json
import math
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler


def orient(components, projections):
    """odis's sign rule: sum of loadings positive, else largest-magnitude loading positive."""
    for c in range(components.shape[0]):
        row = components[c]
        s = row.sum()
        if abs(s) > 1e-12:
            flip = s < 0
        else:
            flip = row[np.argmax(np.abs(row))] < 0  # argmax: first of equals
        if flip:
            components[c] *= -1
            projections[:, c] *= -1


def exact_mean(X):
    """Column means correctly rounded (math.fsum).

    numpy's mean along axis 0 adds row by row; on the synthetic table (offset 1e4,
    spread 1e-2) it is off by up to ~7e-10, i.e. 1e-7 of the spread, far above the
    tolerance under test. Centring with exact means first changes nothing in the
    PCA mathematically and keeps sklearn's own numerics for the rest.
    """
    return np.array([math.fsum(X[:, j]) / X.shape[0] for j in range(X.shape[1])])


def reference(X, k, standardize):
    mean = exact_mean(X)
    X = X - mean
    Z = StandardScaler().fit_transform(X) if standardize else X
    pca = PCA(n_components=k, svd_solver="full")
    projections = pca.fit_transform(Z)
    components = pca.components_.copy()
    orient(components, projections)
    scale = np.sqrt(np.var(X, axis=0)) if standardize else np.ones(X.shape[1])
    return {
        "n_rows": int(X.shape[0]),
        "mean": mean.tolist(),
        "scale": scale.tolist(),
        "components": components.tolist(),
        "explained_variance": pca.explained_variance_.tolist(),
        "explained_variance_ratio": pca.explained_variance_ratio_.tolist(),
    }, projections


def list_column(X, value_type):
    flat = pa.array(X.reshape(-1), type=value_type)
    offsets = pa.array(np.arange(0, X.size + 1, X.shape[1], dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, flat)


def write_table(path, ids, X, value_type=pa.float64(), invalid=None):
    """ids, list column `x`; `invalid` = extra rows (id, vector or None) pca_fit must skip."""
    column = list_column(X, value_type)
    ids = list(ids)
    if invalid:
        extra = pa.array([v for _, v in invalid], type=pa.list_(value_type))
        column = pa.concat_arrays([column, extra])
        ids += [i for i, _ in invalid]
    order = np.random.default_rng(7).permutation(len(ids))  # rows not in id order
    table = pa.table({"id": pa.array(ids, pa.int64()), "x": column}).take(pa.array(order))
    pq.write_table(table, path, row_group_size=50_000)


def main(out):
    os.makedirs(out, exist_ok=True)
    cases = []

    def add_case(name, table, k, standardize, X, ids, sample, invalid_ids=()):
        model, projections = reference(X, k, standardize)
        rows = {int(ids[i]): projections[i].tolist() for i in sample}
        cases.append({"name": name, "table": table, "k": k, "standardize": standardize,
                      "model": model, "projections": rows, "invalid_ids": list(invalid_ids)})

    for dataset, loader in [("wine", load_wine), ("breast_cancer", load_breast_cancer)]:
        X = loader().data.astype(np.float64)
        d = X.shape[1]
        ids = np.arange(1, X.shape[0] + 1)
        invalid = [(10_001, None), (10_002, [float("nan")] * d), (10_003, [1.0] * (d - 1) + [float("inf")])]
        write_table(os.path.join(out, f"{dataset}.parquet"), ids, X, invalid=invalid)
        everything = range(X.shape[0])
        invalid_ids = [i for i, _ in invalid]
        add_case(f"{dataset} k=4", f"{dataset}.parquet", 4, True, X, ids, everything, invalid_ids)
        add_case(f"{dataset} k=5 unstandardized", f"{dataset}.parquet", 5, False, X, ids, everything, invalid_ids)
        add_case(f"{dataset} k=1", f"{dataset}.parquet", 1, True, X, ids, everything, invalid_ids)

    X = load_wine().data.astype(np.float32)
    ids = np.arange(1, X.shape[0] + 1)
    write_table(os.path.join(out, "wine_f32.parquet"), ids, X, value_type=pa.float32())
    add_case("wine float32 k=3", "wine_f32.parquet", 3, True, X.astype(np.float64), ids, range(X.shape[0]))

    rng = np.random.default_rng(20261128)
    n, d = 1_000_000, 11
    spectrum = np.logspace(0, -5, d)  # variances from 1 to 1e-5
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    latent = rng.normal(size=(n, d)) * np.sqrt(spectrum)
    X = 1e4 + 1e-2 * (latent @ q.T) + np.linspace(0, 1e-3, d)
    ids = np.arange(1, n + 1)
    write_table(os.path.join(out, "synthetic.parquet"), ids, X)
    split = os.path.join(out, "synthetic_split")
    os.makedirs(split, exist_ok=True)
    for part, chunk in enumerate(np.array_split(np.arange(n), 4)):
        write_table(os.path.join(split, f"part-{part}.parquet"), ids[chunk], X[chunk])
    sample = rng.choice(n, size=2000, replace=False)
    add_case("synthetic k=4", "synthetic.parquet", 4, True, X, ids, sample)
    add_case("synthetic k=4 unstandardized", "synthetic.parquet", 4, False, X, ids, sample)

    with open(os.path.join(out, "expected.json.tmp"), "w") as f:
        json.dump({"cases": cases}, f)
    os.replace(os.path.join(out, "expected.json.tmp"), os.path.join(out, "expected.json"))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
