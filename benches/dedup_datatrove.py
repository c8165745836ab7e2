"""near_duplicates' 'datatrove' spec side by side with Hugging Face datatrove
0.10's MinHash dedup (FineWeb's setting), on real text.

    python benches/dedup_datatrove.py --out DIR [--docs 100000] [--workers 2] [--odis PATH]

Builds the corpus with tests/support/datatrove_minhash_reference.py (documents
of 1 to 4 texts of the bundled corpus from a shared pool, some copies changed
in case, digits, spacing or a word) and runs datatrove's three stages there,
its signature stage over --workers processes (kept in DIR: a second run
reuses them). Then, each in its own process, odis's

    SELECT id, duplicate_of FROM near_duplicates('corpus', 'id', 'text', SPEC)

with SPEC 'datatrove' and odis's default, and prints the wall time, peak RSS
and documents removed of each, and how far each removed set agrees with
datatrove's (|both| / |either|).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

from scale import measured

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    parser.add_argument("--odis", default=os.path.join(target, "release", "odis"))
    parser.add_argument("--out", required=True, help="where the corpus and datatrove's answer are kept")
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    ref = os.path.join(args.out, f"datatrove-{args.docs}-{args.workers}")
    if not os.path.exists(os.path.join(ref, "expected.json")):
        print(f"running datatrove's three stages on {args.docs:,} documents ...", flush=True)
        script = os.path.join(ROOT, "tests", "support", "datatrove_minhash_reference.py")
        subprocess.run([sys.executable, script, ref, str(args.docs), str(args.workers)], check=True)
    expected = json.load(open(os.path.join(ref, "expected.json")))
    theirs = set(expected["removed"])
    seconds = expected["seconds"]
    total = sum(seconds.values())
    print(f"datatrove 0.10.1 ({args.workers} workers): {total:.1f} s (" + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items())
          + f"), {len(theirs):,} removed", flush=True)
    corpus = os.path.join(ref, "corpus.parquet")
    for spec in ["datatrove", ""]:
        sql = (f"CREATE EXTERNAL TABLE corpus STORED AS PARQUET LOCATION '{corpus}'; "
               f"SELECT id, duplicate_of FROM near_duplicates('corpus', 'id', 'text', '{spec}')")
        with tempfile.NamedTemporaryFile("r", suffix=".csv") as answer:
            wall, mib, _ = measured([args.odis, "-q", "--format", "csv", "-c", sql], stdout_path=answer.name)
            lines = answer.read().splitlines()[1:]
        ours = {int(line.split(",")[0]) for line in lines if line}
        both = len(ours & theirs)
        print(f"odis near_duplicates '{spec or 'default'}': {wall:.1f} s ({wall / total:.3f}x datatrove's time), peak {mib:.0f} MiB, "
              f"{len(ours):,} removed; {both:,} also by datatrove, {len(ours - theirs):,} only by odis, "
              f"{len(theirs - ours):,} only by datatrove: agreement {100 * both / max(1, len(ours | theirs)):.2f}%", flush=True)


if __name__ == "__main__":
    main()
