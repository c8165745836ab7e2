"""Every selection method of `odis select --method` side by side, on real text
with junk and copies mixed in.

    python benches/methods.py [--budget 10%] [--junk-share 0.25] [--copy-share 0.09]
                              [--clusters K] [--no-semantic] [--vendi-sample 1000] [--model DIR]
                              [--odis PATH] [--keep DIR]

Builds a junk-injected corpus with copies from the bundled corpus
(benches/junk_corpus.py, seeded). Pass 1 runs once with all-MiniLM-L6-v2
embeddings kept in a work directory (`--embed`, `--keep-work`); then every
method selects the same budget from those scores: odis (the top of each
orthogonal component), kmeans (Diversify-and-Conquer's kMQ), ccs, dpp, mig
and random, each after the same filter and MinHash dedup; plus odis with
`--dedup none` and with `--dedup semantic` (SemDeDup), each with its own pass 1.

One Markdown table: per selection, rows; junk share (and without shuffled-word
documents, which no surface statistic can see); redundant share (selected rows
that copy another selected row: copies of one original, or the original and a
copy, count once); the Vendi score (cosine, q = 1) of MiniLM embeddings of a
seeded sample of the selection (the same size for each); the mean of each
family of quality ratings (language, knowledge, difficulty); and the time of
the run (the first includes pass 1 with the embeddings; the others reuse it).

The MiniLM model directory comes from `scripts/setup.sh --models`.
"""

import argparse
import os
import sys
import tempfile

import pyarrow.parquet as pq

from quality import HOME, ROOT, run


def query(odis, sql):
    stdout, _ = run([odis, "-q", "--format", "csv", "-c", sql])
    return stdout.strip().splitlines()[-1].split(",")


def shares(path):
    t = pq.read_table(path, columns=["id", "junk", "copy_of"]).to_pydict()
    n = max(len(t["id"]), 1)
    junk = sum(k is not None for k in t["junk"])
    surface = sum(k is not None and k != "shuffled_words" for k in t["junk"])
    originals = [c if c is not None else i for i, c in zip(t["id"], t["copy_of"])]
    redundant = len(originals) - len(set(originals))
    return len(t["id"]), 100 * junk / n, 100 * surface / n, 100 * redundant / n


def measures(odis, model, path, sample):
    view = f"CREATE EXTERNAL TABLE s STORED AS PARQUET LOCATION '{path}'; CREATE VIEW v AS SELECT id, text FROM s;"
    vendi = float(query(odis, view + f"SELECT vendi_score(odis_score(text, '{model}')) FROM sample_uniform('v', 'id', {sample}, 11);")[0])
    families = query(
        odis,
        view + "SELECT avg((r[1] + r[2] + r[3] + r[4] + r[5]) / 5), avg((r[6] + r[7] + r[8]) / 3), avg((r[9] + r[10] + r[11]) / 3) "
        "FROM (SELECT quality_ratings_vector(text) AS r FROM v);",
    )
    return vendi, [float(f) for f in families]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    parser.add_argument("--odis", default=os.path.join(target, "release", "odis"))
    parser.add_argument("--model", default=os.path.join(HOME, "models", "minilm"))
    parser.add_argument("--junk-share", type=float, default=0.25)
    parser.add_argument("--copy-share", type=float, default=0.09)
    parser.add_argument("--budget", default="10%")
    parser.add_argument("--clusters", type=int, help="k-means clusters of kmeans, dpp and mig (default: odis select's: 64, and for dpp from the budget)")
    parser.add_argument("--no-semantic", action="store_true", help="leave out the --dedup semantic row (its own pass 1 with embeddings, half an hour)")
    parser.add_argument("--vendi-sample", type=int, default=1000, help="rows of each selection embedded for the Vendi score")
    parser.add_argument("--keep", help="keep the corpus, work directories and selections in this directory")
    args = parser.parse_args()
    if not os.path.exists(args.odis):
        sys.exit(f"{args.odis} not found: cargo build --release (or pass --odis)")
    if not os.path.exists(os.path.join(args.model, "model.onnx")):
        sys.exit(f"{args.model} is not a model directory: run scripts/setup.sh --models (or pass --model)")

    work = args.keep or tempfile.mkdtemp(prefix="odis-methods-")
    os.makedirs(work, exist_ok=True)
    corpus = os.path.join(work, "corpus.parquet")
    run([sys.executable, os.path.join(ROOT, "benches", "junk_corpus.py"), "--out", corpus,
         "--junk-share", str(args.junk_share), "--copy-share", str(args.copy_share)])

    def select(name, extra):
        out = os.path.join(work, f"{name}.parquet")
        clusters = ["--clusters", str(args.clusters)] if args.clusters else []
        argv = [args.odis, "-q", "select", "--input", corpus, "--budget", args.budget, "--out", out, "--no-report", *clusters, *extra]
        stdout, seconds = run(argv)
        print(f"--- {name}\n{stdout}", file=sys.stderr)
        return out, seconds

    shared = ["--embed", args.model, "--work-dir", os.path.join(work, "work"), "--keep-work"]
    rows = []
    for method in ["odis", "kmeans", "ccs", "dpp", "mig", "random"]:
        rows.append((f"--method {method}", *select(method, ["--method", method, *shared])))
    rows.append(("--method odis --dedup none", *select("odis_nodedup", ["--dedup", "none", "--work-dir", os.path.join(work, "work_none")])))
    if not args.no_semantic:
        rows.append(("--method odis --dedup semantic", *select("odis_semantic", ["--dedup", "semantic", "--embed", args.model,
                                                                                  "--work-dir", os.path.join(work, "work_semantic")])))

    sizes = [pq.read_metadata(path).num_rows for _, path, _ in rows]
    sample = min([args.vendi_sample, *sizes])
    n, junk, surface, redundant = shares(corpus)
    print(f"\ncorpus: {n} documents, {junk:.1f}% junk ({surface:.1f}% without shuffled words), {redundant:.1f}% redundant copies; "
          f"budget {args.budget}; {args.clusters or '64 (dpp: from the budget)'} clusters; Vendi score of {sample} embedded rows per selection "
          f"(all-MiniLM-L6-v2, cosine, q = 1)\n")
    print("| odis select | rows | junk | junk, shuffled words excluded | redundant | Vendi score | language | knowledge | difficulty | time |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, path, seconds in rows:
        n, junk, surface, redundant = shares(path)
        vendi, (language, knowledge, difficulty) = measures(args.odis, args.model, path, sample)
        print(f"| {label} | {n} | {junk:.2f}% | {surface:.2f}% | {redundant:.2f}% | {vendi:.1f} | {language:.3f} | {knowledge:.3f} "
              f"| {difficulty:.3f} | {seconds:.1f} s |")
    if not args.keep:
        print(f"\n(work files in {work}; pass --keep DIR to choose where)")


if __name__ == "__main__":
    main()
