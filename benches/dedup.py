"""What dedup costs in `odis select`: the same selection with --dedup none,
exact and minhash, side by side in one run, each its own process.

    python benches/scale_corpus.py --out /data/scale          # 2,000,000 documents
    python benches/dedup.py --corpus /data/scale [--odis PATH] [--budget 10%] [--repeat N]

Prints, per mode, the whole run's wall time and peak RSS, pass 1's time (the
filter, the ratings and, but for none, each kept document's dedup key) and the
dedup stage's, what dedup removed, and the ratios to --dedup none that the
targets are set on (pass 1 within 1.3x, the whole run within 1.3x, peak RSS
under 1 GiB). With --repeat N the modes run in turn N times and each keeps
its fastest run: a small machine's runs vary by 15% from one to the next,
more than the differences measured.
"""

import argparse
import os
import re
import sys
import tempfile

from scale import measured

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def stage(report, name):
    """Seconds of a stage in odis select's summary line, 0 when absent."""
    found = re.search(re.escape(name) + r" ([0-9.]+) s", report)
    return float(found.group(1)) if found else 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    parser.add_argument("--odis", default=os.path.join(target, "release", "odis"))
    parser.add_argument("--corpus", required=True, help="a directory of part-*.parquet (benches/scale_corpus.py)")
    parser.add_argument("--budget", default="10%")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each mode, in turn; the fastest counts")
    args = parser.parse_args()
    every = os.path.join(args.corpus, "*.parquet")
    work = tempfile.mkdtemp(prefix="odis-dedup-")
    rows = {}
    for attempt in range(args.repeat):
        for mode in ["none", "exact", "minhash"]:
            out = os.path.join(work, f"{mode}.parquet")
            summary = os.path.join(work, f"{mode}.txt")
            argv = [args.odis, "select", "--input", every, "--budget", args.budget, "--dedup", mode, "--out", out, "--no-report"]
            seconds, mib, cpu = measured(argv, stdout_path=summary)
            report = open(summary).read()
            removed = re.search(r"dedup [^\n]*?: (\d+) of them removed", report)
            run = (seconds, mib, cpu, stage(report, "pass 1)"), stage(report, "dedup"), int(removed.group(1)) if removed else 0)
            print(f"run {attempt + 1}, --dedup {mode}: {seconds:.1f} s, peak {mib:.0f} MiB, pass 1 {run[3]:.1f} s, "
                  f"dedup {run[4]:.1f} s, {run[5]} removed", flush=True)
            if mode not in rows or seconds < rows[mode][0]:
                rows[mode] = run
    base = rows["none"]
    print("\n| odis select --budget %s | wall | pass 1 | dedup | peak RSS | removed | wall / none | pass 1 / none |" % args.budget)
    print("|---|---|---|---|---|---|---|---|")
    for mode, (seconds, mib, _, pass1, dedup, removed) in rows.items():
        print(f"| --dedup {mode} | {seconds:.1f} s | {pass1:.1f} s | {dedup:.1f} s | {mib:,.0f} MiB | {removed:,} | "
              f"{seconds / base[0]:.2f}x | {pass1 / base[3]:.2f}x |")
    worst = max(r[1] for r in rows.values())
    if worst > 1024:
        sys.exit(f"peak RSS {worst:.0f} MiB is over 1 GiB")


if __name__ == "__main__":
    main()
