"""`odis select` at corpus scale: time against one scoring pass, and peak
memory against corpus size, side by side in one run.

    python benches/scale_corpus.py --out /data/scale          # 2,000,000 documents in 8 files
    python benches/scale.py --corpus /data/scale [--odis PATH] [--fixed-budget 20000] [--repeat 3]

Runs, each as its own process (peak RSS is the process's high-water mark):
  1. one scoring pass: COPY (SELECT id, quality_filter(text), quality_ratings_vector(text) ...)
  2. odis select --budget 10% over every file
  3. odis select --budget FIXED over the first quarter of the files and over all of them
     (--repeat N times each, alternating: the run of median peak is reported)
  4. odis select --budget 10% killed with SIGKILL at 40% of run 2's time, then the same
     command again (it resumes from the shards of its work directory)
and prints their times and peak memory, with the ratios the targets are set on, and checks
that the killed run left no output and the resumed run selected what run 2 did.
"""

import argparse
import glob
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def measured(argv, stdout_path=None):
    """(seconds, peak RSS in MiB, CPU seconds) of a child process, via a
    fresh Python so that RUSAGE_CHILDREN holds this one child alone; its
    standard output goes to `stdout_path` when given."""
    probe = (
        "import os, resource, subprocess, sys, time\n"
        "out = open(os.environ['ODIS_BENCH_STDOUT'], 'w') if os.environ.get('ODIS_BENCH_STDOUT') else subprocess.DEVNULL\n"
        "t = time.perf_counter(); p = subprocess.run(sys.argv[1:], stdout=out, stderr=subprocess.PIPE, text=True)\n"
        "t = time.perf_counter() - t\n"
        "if p.returncode: sys.exit(p.stderr)\n"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(t, u.ru_maxrss / 1024, u.ru_utime + u.ru_stime)\n"
    )
    env = dict(os.environ, ODIS_BENCH_STDOUT=stdout_path or "")
    proc = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{proc.stderr}")
    seconds, mib, cpu = proc.stdout.split()
    return float(seconds), float(mib), float(cpu)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    parser.add_argument("--odis", default=os.path.join(target, "release", "odis"))
    parser.add_argument("--corpus", required=True, help="a directory of part-*.parquet (benches/scale_corpus.py)")
    parser.add_argument("--fixed-budget", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the fixed-budget pair this many times, alternating, and take each one's median: "
                             "peak RSS varies by tens of MiB between identical runs")
    args = parser.parse_args()
    files = sorted(glob.glob(os.path.join(args.corpus, "*.parquet")))
    if len(files) < 4:
        sys.exit(f"{args.corpus}: expected at least 4 Parquet files, found {len(files)}")
    work = tempfile.mkdtemp(prefix="odis-scale-")
    quarter = os.path.join(work, "quarter")
    os.makedirs(quarter)
    for f in files[: len(files) // 4]:
        os.symlink(f, os.path.join(quarter, os.path.basename(f)))
    every = os.path.join(args.corpus, "*.parquet")

    results = {}
    score_sql = (
        f"COPY (SELECT id, quality_filter(text)['rule'] AS rule, quality_ratings_vector(text) AS r "
        f"FROM '{every}') TO '{work}/scores.parquet'"
    )
    results["one scoring pass"] = measured([args.odis, "-q", "-c", score_sql])
    out = os.path.join(work, "selected.parquet")
    reference = os.path.join(work, "reference.parquet")
    results["odis select --budget 10%"] = measured([args.odis, "select", "--input", every, "--budget", "10%", "--out", reference, "--no-report"])
    fixed = str(args.fixed_budget)
    pair = {
        f"odis select --budget {fixed}, 1/4 of the files":
            [args.odis, "select", "--input", os.path.join(quarter, "*.parquet"), "--budget", fixed, "--out", out, "--no-report"],
        f"odis select --budget {fixed}, all files":
            [args.odis, "select", "--input", every, "--budget", fixed, "--out", out, "--no-report"],
    }
    runs = {label: [] for label in pair}
    for _ in range(max(1, args.repeat)):
        for label, argv in pair.items():
            runs[label].append(measured(argv))
    for label, measured_runs in runs.items():
        # The run of median peak; its time is that run's.
        results[label] = sorted(measured_runs, key=lambda r: r[1])[len(measured_runs) // 2]
        if len(measured_runs) > 1:
            print(f"{label}: peaks {', '.join(f'{r[1]:.0f}' for r in measured_runs)} MiB", flush=True)

    # Killed at 40% of a full run's time, then resumed with the same command.
    resumed = os.path.join(work, "resumed.parquet")
    command = [args.odis, "select", "--input", every, "--budget", "10%", "--out", resumed, "--no-report", "--work-dir", os.path.join(work, "w")]
    killed = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.4 * results["odis select --budget 10%"][0])
    killed.kill()
    killed.wait()
    if os.path.exists(resumed):
        sys.exit("the killed run left an output file (or finished before 40% of its time)")
    shards = len(glob.glob(os.path.join(work, "w", "raw_scores", "part-*.parquet")))
    results[f"the same, rerun after SIGKILL at 40% ({shards} shards kept)"] = measured(command)
    import pyarrow.parquet as pq
    columns = ["id", "odis_dim", "odis_rank"]
    same = pq.read_table(reference, columns=columns).equals(pq.read_table(resumed, columns=columns))

    print("| run | time | peak RSS |")
    print("|---|---:|---:|")
    for label, (seconds, mib, _) in results.items():
        print(f"| {label} | {seconds:.1f} s | {mib:,.0f} MiB |")
    labels = list(results)
    print(f"\nselect 10% / one scoring pass: {results[labels[1]][0] / results[labels[0]][0]:.2f}x time (target <= 1.5x)")
    print(f"peak RSS at a fixed budget, all / quarter: {results[labels[3]][1] / results[labels[2]][1]:.2f}x (target <= 1.2x)")
    print(f"peak RSS of select 10%: {results[labels[1]][1]:,.0f} MiB (target <= 1024 MiB)")
    print(f"rerun after SIGKILL at 40% / full run: {results[labels[4]][0] / results[labels[1]][0]:.2f}x time (target <= 0.7x); "
          f"no output left by the killed run; same ids, dims and ranks as the full run: {same}")


if __name__ == "__main__":
    main()
