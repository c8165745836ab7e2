"""Pass 1 of `odis select` (the quality filter on every document, the ratings of
the documents it keeps, written to Parquet) with two odis builds side by side in
one run, next to a bare scan of the text column.

    python benches/scale_corpus.py --out /data/scale          # 2,000,000 documents
    python benches/text_pass.py --corpus /data/scale --baseline OLD_ODIS [--odis NEW_ODIS]

OLD_ODIS is a release build of an earlier commit, e.g. from a worktree built with the
same CARGO_TARGET_DIR (only odis's own crates rebuild). Prints each run's wall time,
CPU time, documents per second and MB of text per second per core, checks that both
builds wrote the same verdicts and ratings, and prints the ratio.
"""

import argparse
import os
import sys
import tempfile

from scale import measured

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    parser.add_argument("--odis", default=os.path.join(target, "release", "odis"))
    parser.add_argument("--baseline", required=True, help="the odis binary to compare with")
    parser.add_argument("--corpus", required=True, help="a directory of part-*.parquet (benches/scale_corpus.py)")
    args = parser.parse_args()
    every = os.path.join(args.corpus, "*.parquet")
    work = tempfile.mkdtemp(prefix="odis-text-pass-")

    import pyarrow.parquet as pq
    import pyarrow.compute as pc
    docs, text_bytes = 0, 0
    for path in sorted(os.listdir(args.corpus)):
        if path.endswith(".parquet"):
            column = pq.read_table(os.path.join(args.corpus, path), columns=["text"]).column("text")
            docs += len(column)
            text_bytes += pc.sum(pc.binary_length(column)).as_py() or 0

    def pass_one(out):
        # The scoring statement of sql/select.sql with its default scores.
        return (
            f"COPY (SELECT id, rule, CASE WHEN rule IS NULL THEN quality_ratings_vector(text) END AS r "
            f"FROM (SELECT id, text, quality_filter(text)['rule'] AS rule FROM '{every}')) TO '{out}'"
        )

    runs = {
        "bare scan (sum of text lengths)": [args.odis, "-q", "-c", f"SELECT sum(octet_length(text)) FROM '{every}'"],
        "pass 1, baseline": [args.baseline, "-q", "-c", pass_one(f"{work}/baseline.parquet")],
        "pass 1, this build": [args.odis, "-q", "-c", pass_one(f"{work}/new.parquet")],
    }
    # (wall, CPU) of each; scale.measured also gives the peak RSS.
    results = {label: measured(argv)[::2] for label, argv in runs.items()}

    columns = ["id", "rule", "r"]
    old = pq.read_table(f"{work}/baseline.parquet", columns=columns).sort_by("id")
    new = pq.read_table(f"{work}/new.parquet", columns=columns).sort_by("id")
    same_rules = old.column("rule").equals(new.column("rule"))
    import numpy as np
    a = np.array([x if x is not None else [] for x in old.column("r").to_pylist()], dtype=object)
    b = np.array([x if x is not None else [] for x in new.column("r").to_pylist()], dtype=object)
    worst = max((max((abs(p - q) for p, q in zip(x, y)), default=0.0) if len(x) == len(y) else float("inf")
                 for x, y in zip(a, b)), default=0.0)

    print(f"{docs:,} documents, {text_bytes / 1e6:,.0f} MB of text")
    print("| run | wall | CPU | documents/s | MB/s per core |")
    print("|---|---:|---:|---:|---:|")
    for label, (wall, cpu) in results.items():
        print(f"| {label} | {wall:.1f} s | {cpu:.1f} s | {docs / wall:,.0f} | {text_bytes / 1e6 / cpu:.1f} |")
    old_wall, new_wall = results["pass 1, baseline"][0], results["pass 1, this build"][0]
    print(f"\npass 1 documents/s, this build / baseline: {old_wall / new_wall:.2f}x (target >= 3x); "
          f"same verdicts: {same_rules}; largest rating difference: {worst:g}")


if __name__ == "__main__":
    main()
