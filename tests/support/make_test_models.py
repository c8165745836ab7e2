"""Small, deterministic ONNX models (and a real WordPiece tokenizer.json) for odis's
odis_score tests, with expected outputs computed by Python onnxruntime.

Writes into OUTDIR:
  tiny_regressor/  embedding -> attention-masked mean -> linear head: output "scores" [batch, 3]
  tiny_encoder/    embeddings (token + type) -> tanh(linear): "last_hidden_state" [batch, seq, 8];
                   odis.json asks for mean pooling and L2 normalisation
  cls_encoder/     the same graph, odis.json asks for the first token ("cls")
  varying_width/   output = input ids as floats, [batch, seq]: its width changes with the input
  extra_input/     an encoder that also wants "pixel_values"
  int_output/      an encoder whose output is int64
  expected.json    texts and, per model, the expected vector of each text (one text per run,
                   so no padding: an independent reference for odis's batched, padded runs)

Usage: python tests/support/make_test_models.py OUTDIR
"""

import json
import os
import shutil
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

WORDS = """the a an of and to in is was for on that with as by at from it this be are or not
data model models language quality text document selection diverse score scores train training
quick brown fox jumps over lazy dog cat word words learning machine large small good bad high low
résumé café naïve""".split()

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "",
    "Ünïcödé résumé naïve café — ok?",
    "a",
    "Data selection for language models: quality and diversity.",
    "12345 678 90",
    " ".join(["training data quality"] * 40),  # longer than max_length
    "Zebras xylophone qwerty",  # mostly unknown words, split into letters
]


def build_tokenizer(path):
    vocab = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3}
    pieces = WORDS + list("abcdefghijklmnopqrstuvwxyz0123456789.,:;!?-—'\"()") + ["##" + c for c in "abcdefghijklmnopqrstuvwxyz0123456789"]
    for p in pieces:
        vocab.setdefault(p, len(vocab))
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tok.save(path)
    return len(vocab)


def ids_inputs(with_types=False, extra=None):
    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
    ]
    if with_types:
        inputs.append(helper.make_tensor_value_info("token_type_ids", TensorProto.INT64, ["batch", "seq"]))
    if extra:
        inputs.append(extra)
    return inputs


def save(graph, directory, manifest=None):
    os.makedirs(directory, exist_ok=True)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="odis-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(directory, "model.onnx"))
    if manifest is not None:
        with open(os.path.join(directory, "odis.json"), "w") as f:
            json.dump(manifest, f)


def regressor(vocab_size, rng):
    h = 16
    emb = numpy_helper.from_array(rng.normal(size=(vocab_size, h)).astype(np.float32), "E")
    w = numpy_helper.from_array(rng.normal(size=(h, 3)).astype(np.float32) * 0.5, "W")
    b = numpy_helper.from_array(np.array([0.1, -0.2, 0.3], np.float32), "b")
    one = numpy_helper.from_array(np.array([1.0], np.float32), "one")
    axes1 = numpy_helper.from_array(np.array([1], np.int64), "axes1")
    axes2 = numpy_helper.from_array(np.array([2], np.int64), "axes2")
    nodes = [
        helper.make_node("Gather", ["E", "input_ids"], ["tok"]),
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["maskf", "axes2"], ["mask3"]),
        helper.make_node("Mul", ["tok", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axes1"], ["summed"], keepdims=0),
        helper.make_node("ReduceSum", ["maskf", "axes1"], ["count"], keepdims=1),
        helper.make_node("Max", ["count", "one"], ["count1"]),
        helper.make_node("Div", ["summed", "count1"], ["mean"]),
        helper.make_node("MatMul", ["mean", "W"], ["lin"]),
        helper.make_node("Add", ["lin", "b"], ["scores"]),
    ]
    out = helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 3])
    return helper.make_graph(nodes, "tiny_regressor", ids_inputs(), [out], [emb, w, b, one, axes1, axes2])


def encoder(vocab_size, rng, extra=None, int_output=False):
    h = 8
    emb = numpy_helper.from_array(rng.normal(size=(vocab_size, h)).astype(np.float32), "E")
    types = numpy_helper.from_array(rng.normal(size=(2, h)).astype(np.float32), "T")
    w = numpy_helper.from_array(rng.normal(size=(h, h)).astype(np.float32), "W")
    nodes = [
        helper.make_node("Gather", ["E", "input_ids"], ["tok"]),
        helper.make_node("Gather", ["T", "token_type_ids"], ["typ"]),
        helper.make_node("Add", ["tok", "typ"], ["x"]),
        helper.make_node("MatMul", ["x", "W"], ["y"]),
        helper.make_node("Tanh", ["y"], ["hidden"] if not int_output else ["hf"]),
    ]
    out_type = TensorProto.FLOAT
    if int_output:
        nodes.append(helper.make_node("Cast", ["hf"], ["hidden"], to=TensorProto.INT64))
        out_type = TensorProto.INT64
    nodes.append(helper.make_node("Identity", ["hidden"], ["last_hidden_state"]))
    # attention_mask is an input of real encoders; this one only carries it.
    nodes.append(helper.make_node("Identity", ["attention_mask"], ["mask_out"]))
    out = helper.make_tensor_value_info("last_hidden_state", out_type, ["batch", "seq", h])
    mask_out = helper.make_tensor_value_info("mask_out", TensorProto.INT64, ["batch", "seq"])
    return helper.make_graph(nodes, "tiny_encoder", ids_inputs(True, extra), [out, mask_out], [emb, types, w])


def varying_width():
    nodes = [helper.make_node("Cast", ["input_ids"], ["ids_as_float"], to=TensorProto.FLOAT)]
    out = helper.make_tensor_value_info("ids_as_float", TensorProto.FLOAT, ["batch", "seq"])
    return helper.make_graph(nodes, "varying_width", ids_inputs()[:1], [out])


def reference(directory, tokenizer_path, max_length, pooling, normalize):
    tok = Tokenizer.from_file(tokenizer_path)
    tok.no_padding()
    tok.enable_truncation(max_length)
    session = ort.InferenceSession(os.path.join(directory, "model.onnx"), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    vectors = []
    for text in TEXTS:
        e = tok.encode(text)
        feed = {
            "input_ids": np.array([e.ids], np.int64),
            "attention_mask": np.array([e.attention_mask], np.int64),
            "token_type_ids": np.array([e.type_ids], np.int64),
        }
        out = session.run(None, {k: v for k, v in feed.items() if k in names})[0][0].astype(np.float64)
        if pooling == "mean":
            out = out.mean(axis=0)
        elif pooling == "cls":
            out = out[0]
        if normalize:
            out = out / np.linalg.norm(out)
        vectors.append(out.tolist())
    return vectors


def main(out):
    os.makedirs(out, exist_ok=True)
    tokenizer_path = os.path.join(out, "tokenizer.json")
    vocab_size = build_tokenizer(tokenizer_path)
    rng = np.random.default_rng(5)

    specs = {
        "tiny_regressor": (regressor(vocab_size, rng), {"dims": ["fluency", "knowledge", "difficulty"], "max_length": 32}),
        "tiny_encoder": (encoder(vocab_size, rng), {"pooling": "mean", "normalize": True, "max_length": 64}),
        "varying_width": (varying_width(), None),
        "extra_input": (encoder(vocab_size, np.random.default_rng(6), extra=helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["batch", 3])), None),
        "int_output": (encoder(vocab_size, np.random.default_rng(7), int_output=True), None),
    }
    for name, (graph, manifest) in specs.items():
        directory = os.path.join(out, name)
        save(graph, directory, manifest)
        shutil.copy(tokenizer_path, os.path.join(directory, "tokenizer.json"))
    cls_dir = os.path.join(out, "cls_encoder")
    shutil.copytree(os.path.join(out, "tiny_encoder"), cls_dir, dirs_exist_ok=True)
    with open(os.path.join(cls_dir, "odis.json"), "w") as f:
        json.dump({"pooling": "cls", "max_length": 64}, f)

    expected = {
        "texts": TEXTS,
        "tiny_regressor": reference(os.path.join(out, "tiny_regressor"), tokenizer_path, 32, "none", False),
        "tiny_encoder": reference(os.path.join(out, "tiny_encoder"), tokenizer_path, 64, "mean", True),
        "cls_encoder": reference(cls_dir, tokenizer_path, 64, "cls", False),
    }
    with open(os.path.join(out, "expected.json.tmp"), "w") as f:
        json.dump(expected, f)
    os.replace(os.path.join(out, "expected.json.tmp"), os.path.join(out, "expected.json"))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
