"""What counting tokens costs pass 1, side by side in one run.

    python benches/scale_corpus.py --out /data/scale      # 2,000,000 documents in 8 files
    python benches/tokens.py --corpus /data/scale --tokenizer ~/.local/share/odis/models/minilm [--repeat 2]

Runs `odis select` over every file of the corpus, each run its own process, in turn:
  1. --budget 10%                                   pass 1 counts no tokens
  2. --budget '300M tokens' --tokenizer approx       UTF-8 bytes / 4
  3. --budget '300M tokens' --tokenizer DIR          the tokenizer.json of DIR
(with --repeat N, the three in turn N times, each keeping its fastest run) and prints the
wall time, pass 1's time (odis's own stage time), the peak RSS, the tokens selected, and
pass 1 against run 1's: the figure the target is set on.
"""

import argparse
import glob
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scale import ROOT, measured  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    parser.add_argument("--odis", default=os.path.join(target, "release", "odis"))
    parser.add_argument("--corpus", required=True, help="a directory of part-*.parquet (benches/scale_corpus.py)")
    parser.add_argument("--tokenizer", required=True, help="a model directory holding tokenizer.json, or the file")
    parser.add_argument("--budget", default="300M tokens")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    files = sorted(glob.glob(os.path.join(args.corpus, "*.parquet")))
    if not files:
        sys.exit(f"{args.corpus}: no Parquet files")
    runs = [
        ("--budget 10%, no token count", ["--budget", "10%"]),
        (f"--budget '{args.budget}' --tokenizer approx", ["--budget", args.budget, "--tokenizer", "approx"]),
        (f"--budget '{args.budget}' --tokenizer DIR", ["--budget", args.budget, "--tokenizer", args.tokenizer]),
    ]
    work = tempfile.mkdtemp(prefix="odis-tokens-")
    best = {}
    for round_ in range(args.repeat):
        for name, extra in runs:
            out = os.path.join(work, "selected.parquet")
            stdout = os.path.join(work, "stdout.txt")
            argv = [args.odis, "select", "--input", os.path.join(args.corpus, "*.parquet"), "--out", out, "--no-report", *extra]
            wall, rss, cpu = measured(argv, stdout)
            text = open(stdout).read()
            found = re.search(r"filter \+ raw scores \(pass 1\) ([0-9.]+) s", text)
            if not found:
                sys.exit(f"{name}: no pass 1 time in its output:\n{text}")
            pass1 = float(found.group(1))
            tokens = re.search(r"size: [0-9,]+ rows, ([0-9,]+) tokens", text)
            tokens = tokens.group(1) if tokens else "-"
            print(f"round {round_ + 1}: {name}: wall {wall:.1f} s, pass 1 {pass1:.1f} s, {rss:,.0f} MiB, tokens {tokens}", flush=True)
            if name not in best or pass1 < best[name][1]:
                best[name] = (wall, pass1, rss, cpu, tokens)
    base = best[runs[0][0]][1]
    print(f"\n{len(files)} files; fastest of {args.repeat} run(s) each\n")
    print("| odis select | wall | pass 1 | peak RSS | tokens selected | pass 1 / no count |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, _ in runs:
        wall, pass1, rss, _cpu, tokens = best[name]
        print(f"| {name} | {wall:.1f} s | {pass1:.1f} s | {rss:,.0f} MiB | {tokens} | {pass1 / base:.2f}x |")


if __name__ == "__main__":
    main()
