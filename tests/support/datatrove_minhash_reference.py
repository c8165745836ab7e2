"""Hugging Face datatrove's MinHash dedup on real text, for near_duplicates'
'datatrove' spec (tests/dedup_datatrove.rs, benches/dedup_datatrove.py).

Builds a corpus from the bundled one (sql/data/corpus.parquet): each
document is 1 to 4 texts of a shared pool, so documents share whole texts
and partial overlaps are common; some are copies of an earlier document
with its case, digits, spacing or a word changed. Then runs datatrove
0.10's three MinHash stages at FineWeb's setting (MinhashConfig with
HashConfig(precision=64): 5-grams, 14 buckets of 8 hashes, xxhash64)
exactly as its pipeline does, stage 1 split over WORKERS tasks of
consecutive documents (a task's documents are numbered in its input order,
so datatrove's order of documents is the ids' order).

Writes to OUT_DIR:
- corpus.parquet: id (int64, from 0), text;
- signatures.json: {id: [112 values] or null (no 5-gram)} for the first
  SAMPLE documents;
- expected.json: {"removed": [ids], "seconds": {stage: s}, ...}.

    python tests/support/datatrove_minhash_reference.py OUT_DIR [DOCS [WORKERS]]
"""
import json
import multiprocessing
import os
import random
import shutil
import struct
import sys
import time

os.environ.setdefault("TQDM_DISABLE", "1")

import pyarrow as pa
import pyarrow.parquet as pq
from datatrove.data import Document
from datatrove.pipeline.dedup.minhash import (
    MinhashConfig,
    MinhashDedupBuckets,
    MinhashDedupCluster,
    MinhashDedupSignature,
)
from datatrove.utils.hashing import HashConfig
from datatrove.utils.logging import logger

# datatrove logs every bucket and draws bars; the stages' times are
# printed at the end.
logger.remove()

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = MinhashConfig(hash_config=HashConfig(precision=64))
SAMPLE = 400
SEED = 20261206


def build_corpus(docs):
    rows = pq.read_table(os.path.join(ROOT, "sql/data/corpus.parquet"), columns=["text"]).to_pylist()
    texts = sorted({r["text"].strip() for r in rows if r["text"] and len(r["text"].split()) >= 6})
    rng = random.Random(SEED)
    pool = rng.sample(texts, min(len(texts), max(200, docs // 4)))
    out = []
    for i in range(docs):
        if out and rng.random() < 0.08:
            # An earlier document, changed where datatrove normalises or a
            # word apart.
            text = rng.choice(out)
            change = rng.randrange(5)
            if change == 0:
                text = text.upper()
            elif change == 1:
                text = " \n ".join(text.split(" "))
            elif change == 2:
                text = "".join(str(rng.randrange(10)) if c.isdigit() else c for c in text) + " 2026"
            elif change == 3:
                words = text.split(" ")
                words[rng.randrange(len(words))] = rng.choice(["the", "a", "odis", "data"])
                text = " ".join(words)
            else:
                text = text.replace(",", " ,").replace(".", "!")
            out.append(text)
        else:
            out.append("\n\n".join(rng.sample(pool, rng.randint(1, 4))))
    return out


def signatures(args):
    """Stage 1 over one task's consecutive documents."""
    out_dir, texts, rank, workers = args
    step = MinhashDedupSignature(output_folder=os.path.join(out_dir, "signatures"), config=CONFIG)
    step.run(iter(Document(text=t, id=str(i)) for i, t in enumerate(texts)), rank=rank, world_size=workers)


def main(out_dir, docs, workers):
    work = f"{out_dir}.work-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    texts = build_corpus(docs)
    seconds = {}

    start = time.time()
    size = -(-len(texts) // workers)
    tasks = [(work, texts[r * size : (r + 1) * size], r, workers) for r in range(workers)]
    if workers == 1:
        signatures(tasks[0])
    else:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            pool.map(signatures, tasks)
    seconds["signatures"] = time.time() - start

    start = time.time()
    buckets = MinhashDedupBuckets(
        input_folder=os.path.join(work, "signatures"), output_folder=os.path.join(work, "buckets"), config=CONFIG
    )
    for rank in range(CONFIG.num_buckets):
        buckets.run(None, rank=rank, world_size=CONFIG.num_buckets)
    seconds["buckets"] = time.time() - start

    start = time.time()
    cluster = MinhashDedupCluster(
        input_folder=os.path.join(work, "buckets"), output_folder=os.path.join(work, "remove"), config=CONFIG
    )
    cluster.run(None, 0, 1)
    seconds["cluster"] = time.time() - start

    removed = []
    for rank in range(workers):
        path = os.path.join(work, "remove", f"{rank:06d}.remove")
        if os.path.exists(path):
            data = open(path, "rb").read()
            removed += [rank * size + i for (i,) in struct.iter_unpack("<I", data)]

    # The values of stage 1 for a sample, computed as its run does.
    step = MinhashDedupSignature(output_folder=os.path.join(work, "sample"), config=CONFIG)
    sample = {}
    for i, text in enumerate(texts[:SAMPLE]):
        shingles = step.get_shingles(text)
        sample[str(i)] = [v for band in step.get_signature(shingles) for v in band] if shingles.size else None

    # Each file whole or not there (expected.json last): a reader never
    # sees half of one.
    os.makedirs(out_dir, exist_ok=True)
    staged = os.path.join(work, "corpus.parquet")
    pq.write_table(pa.table({"id": pa.array(range(len(texts)), pa.int64()), "text": texts}), staged)
    os.replace(staged, os.path.join(out_dir, "corpus.parquet"))
    summary = {"docs": len(texts), "workers": workers, "removed": sorted(removed), "seconds": seconds}
    for name, value in (("signatures.json", sample), ("expected.json", summary)):
        with open(os.path.join(work, name), "w") as f:
            json.dump(value, f)
        os.replace(os.path.join(work, name), os.path.join(out_dir, name))
    shutil.rmtree(work, ignore_errors=True)
    print(f"datatrove: {len(texts)} documents, {len(removed)} removed; " + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()), file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 12_000, int(sys.argv[3]) if len(sys.argv) > 3 else 1)
