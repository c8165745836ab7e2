"""`odis select` over the same corpus as Parquet and as JSON Lines (zstd),
side by side in one run: pass 1's time, the run's peak memory, and what
`--annotations` costs.

    python benches/scale_corpus.py --out /data/scale           # 2,000,000 documents in 8 files
    python benches/formats.py --corpus /data/scale [--odis PATH] [--compression zstd]

The corpus's Parquet files are written once as `*.jsonl.zst` (one per file,
beside a copy under the work directory), then `odis select --budget 10%
--annotations DIR --report-json FILE` runs over each, each run its own
process (peak RSS is its high-water mark). Pass 1's time and the
annotations' time are read from each run's report.json. Checks that both
runs selected the same ids, components and ranks, and that the annotations
have one row per input document.

Targets (issue "Corpora as users hold them"): JSON pass 1 <= 1.5x the
Parquet pass 1, JSON peak RSS <= 1.2x the Parquet run's, annotations <= 10%
of the run's wall time.
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scale import ROOT, measured  # noqa: E402

PASS_1 = "filter + raw scores (pass 1)"


def stage(report, name):
    return sum(s["seconds"] for s in report["stages"] if s["stage"] == name)


def scalar(odis, sql):
    """The one value a query returns, as text."""
    out = subprocess.run([odis, "-q", "--format", "csv", "-c", sql], capture_output=True, text=True, check=True).stdout
    return out.strip().splitlines()[-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    parser.add_argument("--odis", default=os.path.join(target, "release", "odis"))
    parser.add_argument("--corpus", required=True, help="a directory of *.parquet (benches/scale_corpus.py)")
    parser.add_argument("--compression", default="zstd", choices=["zstd", "gzip", "uncompressed"])
    parser.add_argument("--work", help="where to write the JSON files and outputs (default: a temporary directory)")
    args = parser.parse_args()
    files = sorted(glob.glob(os.path.join(args.corpus, "*.parquet")))
    if not files:
        sys.exit(f"{args.corpus}: no Parquet files")
    work = args.work or tempfile.mkdtemp(prefix="odis-formats-")
    suffix = {"zstd": ".jsonl.zst", "gzip": ".jsonl.gz", "uncompressed": ".jsonl"}[args.compression]
    json_dir = os.path.join(work, "json")
    os.makedirs(json_dir, exist_ok=True)
    for f in files:
        target_file = os.path.join(json_dir, os.path.basename(f).removesuffix(".parquet") + suffix)
        if not os.path.exists(target_file):
            print(f"writing {target_file}", file=sys.stderr)
            sql = f"COPY (SELECT * FROM '{f}') TO '{target_file}' STORED AS JSON OPTIONS ('format.compression' '{args.compression}')"
            subprocess.run([args.odis, "-q", "-c", sql], check=True, stdout=subprocess.DEVNULL)
    size = lambda paths: sum(os.path.getsize(p) for p in paths) / 2**20  # noqa: E731
    print(f"corpus: {len(files)} files, {size(files):.0f} MiB as Parquet, "
          f"{size(glob.glob(os.path.join(json_dir, '*' + suffix))):.0f} MiB as {suffix}")

    runs = {}
    for name, input_glob in [("parquet", os.path.join(args.corpus, "*.parquet")), (suffix, os.path.join(json_dir, "*" + suffix))]:
        key = name.strip(".").replace(".", "_")
        out = os.path.join(work, f"selected-{key}.parquet")
        report_json = os.path.join(work, f"report-{key}.json")
        annotations = os.path.join(work, f"annotations-{key}")
        seconds, mib, cpu = measured([args.odis, "select", "--input", input_glob, "--budget", "10%", "--out", out,
                                      "--no-report", "--report-json", report_json, "--annotations", annotations])
        with open(report_json) as f:
            report = json.load(f)
        rows = int(scalar(args.odis, f"SELECT count(*) FROM '{annotations}/'"))
        runs[name] = dict(seconds=seconds, mib=mib, cpu=cpu, pass1=stage(report, PASS_1),
                          annotations=stage(report, "annotations"), rows_in=report["rows"]["in"], rows=rows, out=out)
        print(f"{name:>12}: {seconds:7.1f} s wall, {mib:6.0f} MiB peak, pass 1 {runs[name]['pass1']:6.1f} s, "
              f"annotations {runs[name]['annotations']:5.1f} s ({100 * runs[name]['annotations'] / seconds:.1f}% of the run), "
              f"{rows} annotation rows for {report['rows']['in']} input rows")

    p, j = runs["parquet"], runs[suffix]
    print(f"{suffix} / parquet: pass 1 {j['pass1'] / p['pass1']:.2f}x (target <= 1.5x), "
          f"peak RSS {j['mib'] / p['mib']:.2f}x (target <= 1.2x), whole run {j['seconds'] / p['seconds']:.2f}x")
    differ = scalar(args.odis, f"SELECT count(*) FROM (SELECT id, odis_dim, odis_rank FROM '{p['out']}' "
                               f"EXCEPT SELECT id, odis_dim, odis_rank FROM '{j['out']}')")
    print(f"selections differ in {differ} rows")
    failed = [n for n, r in runs.items() if r["rows"] != r["rows_in"]]
    if differ != "0" or failed:
        sys.exit(f"check failed: {differ} rows differ; annotation rows off in {failed}")


if __name__ == "__main__":
    main()
