"""What odis selects on real text with junk mixed in, next to the baselines.

    python benches/quality.py [--junk-share 0.25] [--budget 10%] [--vendi-sample 1000]
                              [--model DIR] [--odis PATH] [--keep DIR]

Builds a junk-injected corpus from the bundled corpus (benches/junk_corpus.py,
seeded), then at one budget runs, in one go:
  - odis select (defaults: quality filter, quality ratings, 4 components),
  - odis select --filter none (what the filter buys),
  - odis select --scaling standard (what rank scaling buys),
  - sql/baselines.sql at the same number of rows: top-k of the PC average,
    sampling by it, random over the documents that pass the filter, and
    random over the whole corpus,
and prints one Markdown table: the junk share of each selection (all kinds,
and without shuffled-word documents, which no surface statistic can see),
the mean inter-component overlap, the Vendi score (cosine, q = 1) of
all-MiniLM-L6-v2 embeddings of a seeded sample of each selection (the same
size for each), and time and rows/s of each odis run.

The MiniLM model directory comes from `scripts/setup.sh --models`.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import pyarrow.parquet as pq

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOME = os.environ.get("ODIS_HOME", os.path.join(os.environ.get("XDG_DATA_HOME", os.path.expanduser("~/.local/share")), "odis"))


def run(argv, **kwargs):
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{proc.stderr}")
    return proc.stdout, time.perf_counter() - started


def select(odis, corpus, out, budget, extra):
    stdout, seconds = run([odis, "select", "--input", corpus, "--budget", budget, "--out", out, "--no-report", *extra])
    overlaps = [float(m.group(1)) for m in re.finditer(r"^\s+\d+\s+\d+\s+\d+\s+\S+\s+\d+ \(([\d.]+)%\)", stdout, re.M)]
    rows_in = int(re.search(r"(\d+) rows in", stdout).group(1))
    return stdout, seconds, rows_in, sum(overlaps) / max(len(overlaps), 1)


def junk_shares(path):
    kinds = pq.read_table(path, columns=["junk"]).column("junk").to_pylist()
    n = max(len(kinds), 1)
    junk = sum(k is not None for k in kinds)
    surface = sum(k is not None and k != "shuffled_words" for k in kinds)
    return len(kinds), 100 * junk / n, 100 * surface / n


def vendi(odis, model, path, sample):
    sql = (
        f"CREATE EXTERNAL TABLE s STORED AS PARQUET LOCATION '{path}';"
        "CREATE VIEW v AS SELECT id, text FROM s;"
        f"SELECT vendi_score(odis_score(text, '{model}')) FROM sample_uniform('v', 'id', {sample}, 11);"
    )
    stdout, _ = run([odis, "-q", "--format", "csv", "-c", sql])
    return float(stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    parser.add_argument("--odis", default=os.path.join(target, "release", "odis"))
    parser.add_argument("--model", default=os.path.join(HOME, "models", "minilm"))
    parser.add_argument("--junk-share", type=float, default=0.25)
    parser.add_argument("--budget", default="10%")
    parser.add_argument("--vendi-sample", type=int, default=1000, help="rows of each selection embedded for the Vendi score")
    parser.add_argument("--keep", help="keep the corpus and selections in this directory")
    args = parser.parse_args()
    if not os.path.exists(args.odis):
        sys.exit(f"{args.odis} not found: cargo build --release (or pass --odis)")
    if not os.path.exists(os.path.join(args.model, "model.onnx")):
        sys.exit(f"{args.model} is not a model directory: run scripts/setup.sh --models (or pass --model)")

    work = args.keep or tempfile.mkdtemp(prefix="odis-quality-")
    os.makedirs(work, exist_ok=True)
    corpus = os.path.join(work, "corpus.parquet")
    run([sys.executable, os.path.join(ROOT, "benches", "junk_corpus.py"), "--out", corpus, "--junk-share", str(args.junk_share)])

    rows = {}
    stdout, seconds, rows_in, overlap = select(args.odis, corpus, os.path.join(work, "odis.parquet"), args.budget, [])
    print(stdout, file=sys.stderr)
    rows["odis select"] = ("odis.parquet", overlap, seconds)
    selected = pq.read_metadata(os.path.join(work, "odis.parquet")).num_rows
    _, seconds, _, overlap = select(args.odis, corpus, os.path.join(work, "nofilter.parquet"), str(selected), ["--filter", "none"])
    rows["odis select --filter none"] = ("nofilter.parquet", overlap, seconds)
    _, seconds, _, overlap = select(args.odis, corpus, os.path.join(work, "standard.parquet"), str(selected), ["--scaling", "standard"])
    rows["odis select --scaling standard"] = ("standard.parquet", overlap, seconds)

    baselines = os.path.join(work, "baselines")
    os.makedirs(baselines, exist_ok=True)
    run([args.odis, "-q", "-v", f"input={corpus}", "-v", f"out_dir={baselines}", "-v", f"budget={selected}",
         "-f", os.path.join(ROOT, "sql", "baselines.sql")], cwd=ROOT)
    for label, name in [("top-k of the PC average", "top_k_average"), ("sampling by the PC average", "sample_by_average"),
                        ("random, filtered", "random_filtered"), ("random", "random")]:
        rows[label] = (os.path.join("baselines", f"{name}.parquet"), None, None)

    sample = min(args.vendi_sample, selected)
    corpus_junk = junk_shares(corpus)
    print(f"\ncorpus: {rows_in} documents, {corpus_junk[1]:.1f}% junk ({corpus_junk[2]:.1f}% without shuffled words); "
          f"budget {args.budget} -> {selected} rows; Vendi score of {sample} embedded rows per selection "
          f"(all-MiniLM-L6-v2, cosine, q = 1)\n")
    print("| selection | rows | junk | junk, shuffled words excluded | mean overlap | Vendi score | time | rows/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, (path, overlap, seconds) in rows.items():
        path = os.path.join(work, path)
        n, junk, surface = junk_shares(path)
        score = vendi(args.odis, args.model, path, sample)
        overlap = "-" if overlap is None else f"{overlap:.2f}%"
        timing = ("-", "-") if seconds is None else (f"{seconds:.1f} s", f"{rows_in / seconds:,.0f}")
        print(f"| {label} | {n} | {junk:.2f}% | {surface:.2f}% | {overlap} | {score:.1f} | {timing[0]} | {timing[1]} |")
    if not args.keep:
        print(f"\n(work files in {work}; pass --keep DIR to choose where)")


if __name__ == "__main__":
    main()
