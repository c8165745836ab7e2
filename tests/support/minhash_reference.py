"""Near-duplicate clusters by datasketch's MinHash LSH, as the independent
reference tests/dedup.rs compares near_duplicates with.

    python tests/support/minhash_reference.py SHINGLES.parquet OUT.json

SHINGLES.parquet holds `id` and `shingles` (each document's 5-word shingle
hashes, as odis computes them: the comparison is of the hashing, banding,
threshold and clustering, not of the tokenizer). The settings are odis's
defaults: 112 permutations in 14 bands of 8 rows, threshold 0.8 on the
estimated Jaccard similarity; clusters are connected components, each
represented by its smallest id. OUT.json: [[id, representative], ...] for
every document that is not its cluster's representative.
"""

import json
import sys

import pyarrow.parquet as pq
from datasketch import MinHash, MinHashLSH

PERMUTATIONS, BANDS, ROWS, THRESHOLD = 112, 14, 8, 0.8


def main():
    table = pq.read_table(sys.argv[1]).to_pydict()
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=PERMUTATIONS, params=(BANDS, ROWS))
    sketches = {}
    for doc, shingles in zip(table["id"], table["shingles"]):
        sketch = MinHash(num_perm=PERMUTATIONS, seed=1)
        sketch.update_batch([s.to_bytes(8, "little") for s in shingles])
        sketches[doc] = sketch
        lsh.insert(doc, sketch)
    parent = {doc: doc for doc in sketches}

    def find(doc):
        while parent[doc] != doc:
            parent[doc] = parent[parent[doc]]
            doc = parent[doc]
        return doc

    for doc in sorted(sketches):
        for other in lsh.query(sketches[doc]):
            if other != doc and sketches[doc].jaccard(sketches[other]) >= THRESHOLD:
                a, b = find(doc), find(other)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    pairs = [[doc, find(doc)] for doc in sorted(sketches) if find(doc) != doc]
    with open(sys.argv[2], "w") as out:
        json.dump(pairs, out)


if __name__ == "__main__":
    main()
