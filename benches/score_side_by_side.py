"""odis_score next to plain Python onnxruntime, on the same real paragraphs and model, in one run.

    python benches/score_side_by_side.py [--docs 1000] [--threads 2] [--model DIR] [--odis PATH]

Model: all-MiniLM-L6-v2 int8 (scripts/setup.sh --models puts it in $ODIS_HOME/models/minilm),
max_length 256, mean pooling, L2-normalised. Texts: dictionary paragraphs of Debian's dict-gcide
(`apt-get install dict-gcide`), in file order. Every contender uses --threads cores.

  Python, file order      HF tokenizers + onnxruntime, batches of 32 in file order
  Python, length-sorted   the same loop, batches cut from the texts sorted by token length
  ORT alone, S x T, bB    only session.run, on pre-tokenised length-sorted batches of B, with
                          S sessions of T intra-op threads (S Python threads; ORT releases the GIL)
  odis                    `odis -c "COPY (SELECT id, odis_score(text, 'm') ...) TO ..."` from
                          Parquet to Parquet: process start, model load, read, tokenise, score, write

The odis embeddings are checked against the Python ones (cosine >= 0.9999) before any figure is
printed.
"""

import argparse
import gzip
import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import onnxruntime as ort
import pyarrow as pa
import pyarrow.parquet as pq
from tokenizers import Tokenizer

GCIDE = "/usr/share/dictd/gcide.dict.dz"
MAX_LENGTH = 256


def paragraphs(n, min_words=40, max_words=220):
    """The first n paragraphs of GCIDE with min_words..max_words words, in file order."""
    if not os.path.exists(GCIDE):
        sys.exit(f"{GCIDE} not found: apt-get install --no-install-recommends dict-gcide")
    out, block = [], []
    with gzip.open(GCIDE, "rt", encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("[1913 Webster]") and not line.startswith("[PJC]"):
                block.append(line)
                continue
            if not line and block:
                words = " ".join(block).split()
                if min_words <= len(words) <= max_words:
                    out.append(" ".join(words))
                    if len(out) == n:
                        return out
                block = []
    return out


def session(model, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(os.path.join(model, "model.onnx"), options, providers=["CPUExecutionProvider"])


def tokenizer(model):
    tok = Tokenizer.from_file(os.path.join(model, "tokenizer.json"))
    tok.enable_truncation(MAX_LENGTH)
    tok.no_padding()
    return tok


def feed(encodings):
    seq = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), seq), np.int64)
    mask = np.zeros_like(ids)
    for r, e in enumerate(encodings):
        ids[r, : len(e.ids)] = e.ids
        mask[r, : len(e.ids)] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def pool(hidden, mask):
    m = mask[:, :, None].astype(np.float32)
    v = (hidden * m).sum(1) / np.maximum(m.sum(1), 1)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def python_loop(model, texts, threads, sort):
    """Tokenise, run and pool in batches of 32: the plain way, from raw text."""
    start = time.perf_counter()
    tok, sess = tokenizer(model), session(model, threads)
    order = list(range(len(texts)))
    if sort:
        lengths = [len(e.ids) for e in tok.encode_batch(texts)]
        order.sort(key=lambda i: -lengths[i])
    out = np.zeros((len(texts), 384), np.float32)
    for at in range(0, len(order), 32):
        members = order[at : at + 32]
        inputs = feed(tok.encode_batch([texts[i] for i in members]))
        hidden = sess.run(["last_hidden_state"], inputs)[0]
        out[members] = pool(hidden, inputs["attention_mask"])
    return time.perf_counter() - start, out


def ort_alone(model, texts, sessions, threads, batch):
    """Only session.run, on pre-tokenised length-sorted batches shared by `sessions` threads."""
    tok = tokenizer(model)
    encodings = sorted(tok.encode_batch(texts), key=lambda e: -len(e.ids))
    batches = [feed(encodings[at : at + batch]) for at in range(0, len(encodings), batch)]
    pool_ = [session(model, threads) for _ in range(sessions)]
    for s in pool_:  # first-run allocations out of the timing
        s.run(["last_hidden_state"], batches[-1])
    next_batch = iter(range(len(batches)))
    lock = threading.Lock()

    def worker(s):
        while True:
            with lock:
                i = next(next_batch, None)
            if i is None:
                return
            s.run(["last_hidden_state"], batches[i])

    start = time.perf_counter()
    workers = [threading.Thread(target=worker, args=(s,)) for s in pool_]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.perf_counter() - start


def odis_run(odis, model, data, out, arrangement):
    """arrangement: (sessions, threads, micro_batch), or None for odis's defaults."""
    argv = [odis, "-q", "--model", f"m={model}"]
    if arrangement:
        sessions, threads, micro_batch = arrangement
        argv += ["--sessions", str(sessions), "--threads", str(threads), "--micro-batch", str(micro_batch)]
    argv += ["-c", f"COPY (SELECT id, odis_score(text, 'm') AS s FROM '{data}') TO '{out}'"]
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"odis failed:\n{proc.stderr}")
    table = pq.read_table(out).sort_by("id")
    return seconds, np.array(table.column("s").to_pylist(), np.float32)


def main():
    home = os.environ.get("ODIS_HOME", os.path.join(os.environ.get("XDG_DATA_HOME", os.path.expanduser("~/.local/share")), "odis"))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2, help="cores every contender may use")
    parser.add_argument("--model", default=os.path.join(home, "models", "minilm"))
    parser.add_argument("--odis", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target")), "release", "odis"))
    args = parser.parse_args()
    if not os.path.exists(os.path.join(args.model, "model.onnx")):
        sys.exit(f"{args.model} has no model.onnx: run scripts/setup.sh --models (or pass --model)")
    if not os.path.exists(args.odis):
        sys.exit(f"{args.odis} not found: cargo build --release (or pass --odis)")

    texts = paragraphs(args.docs)
    tokens = [len(e.ids) for e in tokenizer(args.model).encode_batch(texts)]
    print(f"Scoring {len(texts)} GCIDE paragraphs (mean {np.mean(tokens):.0f} tokens, {np.percentile(tokens, 10):.0f}-"
          f"{np.percentile(tokens, 90):.0f} p10-p90, max_length {MAX_LENGTH}) with {os.path.basename(args.model)}, "
          f"{args.threads} threads\n", flush=True)
    t = args.threads
    results = {}

    def record(label, seconds):
        results[label] = len(texts) / seconds
        print(f"  {label:<44} {seconds:8.2f} s {results[label]:8.1f} docs/s", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "paragraphs.parquet")
        pq.write_table(pa.table({"id": np.arange(len(texts), dtype=np.int64), "text": texts}), data)

        seconds, reference = python_loop(args.model, texts, t, sort=False)
        record("Python, file order, b32", seconds)
        seconds, sorted_out = python_loop(args.model, texts, t, sort=True)
        record("Python, length-sorted, b32", seconds)
        record(f"ORT alone, 1 x {t} threads, b32", ort_alone(args.model, texts, 1, t, 32))
        record(f"ORT alone, {t} x 1 thread, b8", ort_alone(args.model, texts, t, 1, 8))

        odis_best = None
        for i, arrangement in enumerate([None, (1, t, 32), (t, 1, 8)]):
            label = "odis, defaults" if arrangement is None else "odis, {} x {}, b{}".format(*arrangement)
            seconds, got = odis_run(args.odis, args.model, data, os.path.join(tmp, f"out{i}.parquet"), arrangement)
            cosine = (got * reference).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(reference, axis=1)
            if cosine.min() < 0.9999:
                sys.exit(f"{label}: odis embeddings differ from Python's (min cosine {cosine.min():.6f})")
            record(label, seconds)
            odis_best = max(odis_best or 0, results[label])

    ort_best = max(v for k, v in results.items() if k.startswith("ORT alone"))
    default = results["odis, defaults"]
    print()
    print(f"  odis (defaults) / Python length-sorted   {default / results['Python, length-sorted, b32']:.2f}x  (target >= 1.2x)")
    print(f"  odis (defaults) / Python file order      {default / results['Python, file order, b32']:.2f}x")
    print(f"  odis (defaults) / best ORT alone         {default / ort_best:.2f}x  (overhead {100 * (1 - default / ort_best):.1f}%, target <= 10%)")
    print(f"  odis (best) / best ORT alone             {odis_best / ort_best:.2f}x  (overhead {100 * (1 - odis_best / ort_best):.1f}%)")


if __name__ == "__main__":
    main()
