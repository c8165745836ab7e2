"""Hugging Face datatrove's verdicts on the bundled corpus, for tests/datatrove.rs.

Runs datatrove 0.10's GopherRepetitionFilter, GopherQualityFilter,
C4QualityFilter and FineWebQualityFilter at their defaults on every document
of sql/data/corpus.parquet, each alone on the original text and as FineWeb's
pipeline runs them (in that order; C4 rewrites the text FineWeb then reads).
Writes expected.json: {id: {family: reason or null, "pipeline": reason or null}}.

    python tests/support/datatrove_reference.py OUT_DIR
"""
import json
import os
import sys
import time

import pyarrow.parquet as pq
from datatrove.data import Document
from datatrove.pipeline.filters import C4QualityFilter, FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FILTERS = [
    ("gopher_repetition", GopherRepetitionFilter()),
    ("gopher_quality", GopherQualityFilter()),
    ("c4", C4QualityFilter()),
    ("fineweb", FineWebQualityFilter()),
]


def reason(result):
    if result is True:
        return None
    return result[1] if isinstance(result, tuple) else "dropped"


def main(out_dir):
    rows = pq.read_table(os.path.join(ROOT, "sql/data/corpus.parquet"), columns=["id", "text"]).to_pylist()
    verdicts = {}
    start = time.time()
    for i, row in enumerate(rows):
        if row["text"] is None:
            continue
        doc_id = str(row["id"])
        verdict = {name: reason(f.filter(Document(text=row["text"], id=doc_id))) for name, f in FILTERS}
        doc = Document(text=row["text"], id=doc_id)
        verdict["pipeline"] = None
        for name, f in FILTERS:
            why = reason(f.filter(doc))
            if why is not None:
                verdict["pipeline"] = f"{name}:{why}"
                break
        verdicts[doc_id] = verdict
        if (i + 1) % 5000 == 0:
            print(f"datatrove_reference: {i + 1} of {len(rows)} documents, {time.time() - start:.0f} s", file=sys.stderr)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "expected.json.partial"), "w") as f:
        json.dump(verdicts, f)
    os.replace(os.path.join(out_dir, "expected.json.partial"), os.path.join(out_dir, "expected.json"))


if __name__ == "__main__":
    main(sys.argv[1])
