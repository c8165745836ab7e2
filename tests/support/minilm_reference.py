"""Reference embeddings of all-MiniLM-L6-v2 for odis's opt-in test: Python onnxruntime,
one text per run (no padding), attention-masked mean pooling, L2-normalised, 256 tokens.

Usage: python tests/support/minilm_reference.py MODEL_DIR CORPUS_PARQUET N OUT_JSON
"""

import json
import os
import sys

import numpy as np
import onnxruntime as ort
import pyarrow.parquet as pq
from tokenizers import Tokenizer


def main(model, corpus, n, out):
    texts = pq.read_table(corpus, columns=["text"]).column("text").to_pylist()[:n]
    texts += ["", "Ünïcödé résumé naïve café — ok?", " ".join(["long"] * 600)]
    tok = Tokenizer.from_file(os.path.join(model, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(256)
    session = ort.InferenceSession(os.path.join(model, "model.onnx"), providers=["CPUExecutionProvider"])
    vectors = []
    for text in texts:
        e = tok.encode(text)
        ids = np.array([e.ids], np.int64)
        hidden = session.run(["last_hidden_state"], {
            "input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)})[0][0]
        v = hidden.astype(np.float64).mean(0)
        vectors.append((v / np.linalg.norm(v)).tolist())
    with open(out, "w") as f:
        json.dump({"texts": texts, "vectors": vectors}, f)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
