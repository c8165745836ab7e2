"""Token counts of every document of a Parquet corpus under a tokenizer.json,
by the Python `tokenizers` package: no special tokens, no truncation, no
padding. The reference token_count is tested against.

    python token_count_reference.py TOKENIZER_JSON CORPUS_PARQUET OUT_JSON
"""
import json
import sys

import pyarrow.parquet as pq
from tokenizers import Tokenizer

tokenizer_path, corpus, out = sys.argv[1:4]
tokenizer = Tokenizer.from_file(tokenizer_path)
tokenizer.no_truncation()
tokenizer.no_padding()
table = pq.read_table(corpus, columns=["id", "text"])
ids = table.column("id").to_pylist()
texts = table.column("text").to_pylist()
present = [i for i, t in enumerate(texts) if t is not None]
encodings = tokenizer.encode_batch([texts[i] for i in present], add_special_tokens=False)
counts = {str(i): None for i in ids}
for i, encoding in zip(present, encodings):
    counts[str(ids[i])] = len(encoding.ids)
with open(out, "w") as f:
    json.dump(counts, f)
