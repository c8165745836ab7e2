"""`odis select` in one process and on a loopback cluster, side by side in one run.

    python benches/scale_corpus.py --out /data/scale         # 2,000,000 documents in 8 files
    python benches/cluster.py --corpus /data/scale [--odis PATH] [--executors 1,2]

Runs `odis select --budget 10%` over the corpus locally, then with `--cluster` against a
scheduler and 1, then 2, executors started as processes on 127.0.0.1 (each with as many
concurrent tasks as the machine has cores, so every configuration has the same CPUs: on one
machine this measures the cluster's overhead, not a speed-up). Prints documents per second
of each run, its ratio to the local run, the CPU seconds each process spent (how the work
split across the executors), and checks that every run selected the same rows.
"""

import argparse
import glob
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port, proc, what):
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{what} did not listen on {port}")


def cpu_seconds(pid):
    """User + system CPU seconds of a running process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def selection_digest(odis, path):
    out = subprocess.run(
        [odis, "--format", "csv", "-c",
         f"SELECT count(*), sum(id * (odis_dim + 1) * odis_rank) FROM '{path}'"],
        capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def run_select(odis, corpus, out, work, cluster=None):
    argv = [odis, "--quiet", "select", "--input", corpus + "/", "--budget", "10%", "--no-report",
            "--out", out, "--work-dir", work]
    if cluster:
        argv += ["--cluster", cluster]
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{proc.stderr}")
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, help="directory of part-*.parquet (benches/scale_corpus.py)")
    parser.add_argument("--odis", default=os.path.join(ROOT, "target", "release", "odis"))
    parser.add_argument("--executors", default="1,2", help="cluster sizes to run, comma-separated")
    args = parser.parse_args()
    files = sorted(glob.glob(os.path.join(args.corpus, "*.parquet")))
    if not files:
        sys.exit(f"no Parquet files in {args.corpus}: run benches/scale_corpus.py --out {args.corpus}")
    rows = int(subprocess.run([args.odis, "--format", "csv", "-c", f"SELECT count(*) FROM '{args.corpus}/'"],
                              capture_output=True, text=True, check=True).stdout.split()[-1])
    cores = os.cpu_count()
    with tempfile.TemporaryDirectory() as tmp:
        results = []
        out = os.path.join(tmp, "local.parquet")
        seconds = run_select(args.odis, args.corpus, out, os.path.join(tmp, "work-local"))
        reference = selection_digest(args.odis, out)
        results.append(("local (1 process)", seconds, None))
        for n in [int(x) for x in args.executors.split(",")]:
            port = free_port()
            procs = [subprocess.Popen([args.odis, "scheduler", "--bind", f"127.0.0.1:{port}"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
            wait_for(port, procs[0], "odis scheduler")
            for e in range(n):
                flight = free_port()
                procs.append(subprocess.Popen(
                    [args.odis, "executor", "--scheduler", f"127.0.0.1:{port}", "--bind", f"127.0.0.1:{flight}",
                     "--concurrent-tasks", str(cores), "--work-dir", os.path.join(tmp, f"executor-{n}-{e}")],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                wait_for(flight, procs[-1], "odis executor")
            time.sleep(1)
            try:
                out = os.path.join(tmp, f"cluster-{n}.parquet")
                seconds = run_select(args.odis, args.corpus, out, os.path.join(tmp, f"work-{n}"),
                                     cluster=f"df://127.0.0.1:{port}")
                cpu = [cpu_seconds(p.pid) for p in procs]
                digest = selection_digest(args.odis, out)
                if digest != reference:
                    sys.exit(f"the {n}-executor cluster selected other rows: {digest} vs {reference}")
                results.append((f"cluster, {n} executor{'s' if n > 1 else ''}", seconds, cpu))
            finally:
                for p in procs:
                    p.kill()
                    p.wait()
    local = results[0][1]
    print(f"odis select --budget 10% over {rows:,} documents ({len(files)} files), {cores} cores")
    print(f"{'run':<24} {'seconds':>8} {'docs/s':>10} {'vs local':>9}  cpu seconds (scheduler, executors)")
    for name, seconds, cpu in results:
        split = "" if cpu is None else "  " + ", ".join(f"{c:.1f}" for c in cpu)
        print(f"{name:<24} {seconds:>8.1f} {rows / seconds:>10,.0f} {local / seconds:>8.2f}x{split}")
    print("every run selected the same rows")


if __name__ == "__main__":
    main()
