"""Builds a large corpus from the bundled one: documents of several real
paragraphs combined, written as N Parquet files.

    python benches/scale_corpus.py --out DIR [--docs 2000000] [--files 8] [--seed 3]

Each document joins 2 to 6 documents of the bundled corpus (dictionary
entries, glosses, fortunes) drawn with a seeded generator, with blank lines
between them, so the text is real and its quality varies as the bundled
corpus's does. The default 2,000,000 documents hold about 2.5 GB of text.
Columns: id (Int64, 1..N), source (the first part's source), text.
"""

import argparse
import os
import random

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default=os.path.join(ROOT, "sql", "data", "corpus.parquet"))
    parser.add_argument("--out", required=True, help="directory to write part-*.parquet into")
    parser.add_argument("--docs", type=int, default=2_000_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    if args.docs < 1 or args.files < 1:
        parser.error("--docs and --files must be at least 1")

    table = pq.read_table(args.input, columns=["source", "text"])
    texts = table.column("text").to_pylist()
    sources = table.column("source").to_pylist()
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    per_file = -(-args.docs // args.files)
    next_id = 1
    total_bytes = 0
    for f in range(args.files):
        n = min(per_file, args.docs - f * per_file)
        if n <= 0:
            break
        ids, firsts, docs = [], [], []
        for _ in range(n):
            parts = [rng.randrange(len(texts)) for _ in range(rng.randint(2, 6))]
            doc = "\n\n".join(texts[p] for p in parts)
            ids.append(next_id)
            firsts.append(sources[parts[0]])
            docs.append(doc)
            total_bytes += len(doc.encode("utf-8"))
            next_id += 1
        path = os.path.join(args.out, f"part-{f:03d}.parquet")
        pq.write_table(pa.table({"id": pa.array(ids, pa.int64()), "source": firsts, "text": docs}), path + ".tmp",
                       compression="zstd", row_group_size=16384)
        os.replace(path + ".tmp", path)
        print(f"{path}: {n} documents", flush=True)
    print(f"{next_id - 1} documents, {total_bytes / 1e9:.2f} GB of text")


if __name__ == "__main__":
    main()
