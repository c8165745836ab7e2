"""Builds a junk-injected corpus: the bundled corpus plus generated documents
of the kinds web-scale quality filters exist for, each labelled.

    python benches/junk_corpus.py --out junk.parquet [--input sql/data/corpus.parquet]
                                  [--junk-share 0.25] [--copy-share 0] [--seed 7]

The output has the input's columns plus `junk` (the kind of a generated
document, NULL for the original ones). Ids of generated documents follow the
largest input id. The same input, shares and seed give the same file.

With --copy-share S, a share S of the output are copies of original prose
documents (50+ words), as crawls hold them: exact copies, copies in other
case and spacing, and copies with 1 to 3 words dropped, doubled or changed;
some originals are copied many times. They have `junk` NULL and
`copy_of` the original's id (the column exists, all NULL, without copies).

Kinds (equal shares): repeated_lines, random_characters, navigation,
identifier_list, hex_dump, all_caps, very_short, keyword_spam, shuffled_words.
Shuffled words keep every surface statistic of a real document, so no
surface filter can see them; the benchmark reports them apart.
"""

import argparse
import os
import random
import string

import pyarrow as pa
import pyarrow.parquet as pq

KINDS = [
    "repeated_lines",
    "random_characters",
    "navigation",
    "identifier_list",
    "hex_dump",
    "all_caps",
    "very_short",
    "keyword_spam",
    "shuffled_words",
]

NAVIGATION = [
    "Home", "About us", "Products", "Services", "Contact", "Log in", "Sign up", "Cart (0)", "Search",
    "Privacy policy", "Terms of use", "Careers", "Blog", "FAQ", "Help center", "Site map", "Newsletter",
    "Follow us on Twitter", "Skip to main content", "Menu", "Back to top", "Next page >>", "<< Previous",
    "Cookie settings", "Accessibility", "Store locator", "Gift cards", "Track your order",
]


def prose_documents(texts):
    """Documents of 50+ words: the material junk is made from."""
    return [t for t in texts if len(t.split()) >= 50]


def repeated_lines(rng, prose, vocabulary):
    line = rng.choice(prose).split(". ")[0][:120]
    other = rng.choice(prose).split(". ")[0][:120]
    lines = [line] * rng.randint(6, 20) + [other] * rng.randint(2, 6)
    rng.shuffle(lines)
    return "\n".join(lines)


def random_characters(rng, prose, vocabulary):
    alphabet = string.ascii_letters + string.digits + string.punctuation
    words = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(rng.randint(40, 160))]
    return " ".join(words)


def navigation(rng, prose, vocabulary):
    lines = []
    for _ in range(rng.randint(8, 25)):
        lines.append(" | ".join(rng.sample(NAVIGATION, rng.randint(1, 5))))
    lines.append(f"Copyright © {rng.randint(1998, 2024)} {rng.choice(vocabulary).title()} Inc. All rights reserved.")
    return "\n".join(lines)


def identifier_list(rng, prose, vocabulary):
    def ident():
        style = rng.randrange(4)
        if style == 0:
            return f"{rng.choice(vocabulary)}_{rng.randint(1, 99999)}"
        if style == 1:
            return f"SKU-{rng.randint(1000, 9999)}-{rng.choice(string.ascii_uppercase)}"
        if style == 2:
            return f"{rng.choice(vocabulary)}.{rng.choice(vocabulary)}.v{rng.randint(1, 9)}"
        return "".join(rng.choice("0123456789abcdef") for _ in range(12))

    per_line = rng.randint(1, 6)
    return "\n".join(", ".join(ident() for _ in range(per_line)) for _ in range(rng.randint(10, 40)))


def hex_dump(rng, prose, vocabulary):
    lines = []
    for row in range(rng.randint(8, 30)):
        data = [rng.randrange(256) for _ in range(16)]
        ascii_part = "".join(chr(b) if 32 <= b < 127 else "." for b in data)
        lines.append(f"{row * 16:08x}  " + " ".join(f"{b:02x}" for b in data) + f"  |{ascii_part}|")
    return "\n".join(lines)


def all_caps(rng, prose, vocabulary):
    return rng.choice(prose).upper()


def very_short(rng, prose, vocabulary):
    return " ".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 8))).capitalize()


def keyword_spam(rng, prose, vocabulary):
    keywords = rng.sample(vocabulary, rng.randint(3, 8))
    extras = ["best", "cheap", "buy", "online", "free", "top", "deals", "sale", "2024", "review"]
    words = [rng.choice(keywords + extras) for _ in range(rng.randint(60, 250))]
    return " ".join(words)


def shuffled_words(rng, prose, vocabulary):
    words = rng.choice(prose).split()
    rng.shuffle(words)
    return " ".join(words)


GENERATORS = {kind: globals()[kind] for kind in KINDS}


def copy_of(rng, text, vocabulary):
    """A copy of `text` as a crawl may hold it, and how it was made."""
    kind = rng.choice(["exact", "spacing", "edited", "edited", "edited"])
    if kind == "exact":
        return kind, text
    if kind == "spacing":
        words = text.split()
        return kind, "  ".join(w.upper() if rng.random() < 0.1 else w for w in words) + "\n"
    words = text.split()
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(words))
        edit = rng.choice(["drop", "double", "change"])
        if edit == "drop" and len(words) > 1:
            del words[i]
        elif edit == "double":
            words.insert(i, words[i])
        else:
            words[i] = rng.choice(vocabulary)
    return "edited", " ".join(words)


def copies(ids, texts, count, seed, vocabulary):
    """`count` copies, as (original id, text), in a seeded order: half of
    them of a few originals copied many times, half of many copied once or
    twice."""
    rng = random.Random(seed + 1)
    pool = [(i, t) for i, t in zip(ids, texts) if t is not None and len(t.split()) >= 50]
    popular = rng.sample(pool, max(1, min(len(pool), count // 40)))
    out = []
    for k in range(count):
        original, text = rng.choice(popular) if k % 2 == 0 else rng.choice(pool)
        out.append((original, copy_of(rng, text, vocabulary)[1]))
    rng.shuffle(out)
    return out


def vocabulary_of(prose):
    words = sorted({w.strip(".,;:()\"'").lower() for t in prose[:2000] for w in t.split()} - {""})
    return [w for w in words if w.isalpha() and len(w) > 2]


def build(texts, count, seed):
    """`count` junk documents, as (kind, text), in a seeded order."""
    rng = random.Random(seed)
    prose = prose_documents(texts)
    vocabulary = vocabulary_of(prose)
    junk = []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        junk.append((kind, GENERATORS[kind](rng, prose, vocabulary)))
    rng.shuffle(junk)
    return junk


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default="sql/data/corpus.parquet")
    parser.add_argument("--out", required=True)
    parser.add_argument("--junk-share", type=float, default=0.25, help="share of the output that is junk")
    parser.add_argument("--copy-share", type=float, default=0.0, help="share of the output that is copies")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not 0 < args.junk_share < 1:
        parser.error(f"--junk-share must be between 0 and 1, got {args.junk_share}")
    if not 0 <= args.copy_share < 1 - args.junk_share:
        parser.error(f"--copy-share must be at least 0 and below 1 - --junk-share, got {args.copy_share}")

    table = pq.read_table(args.input)
    texts = table.column("text").to_pylist()
    originals = 1 - args.junk_share - args.copy_share
    count = round(len(texts) * args.junk_share / originals)
    junk = build(texts, count, args.seed)
    ids = table.column("id").to_pylist()
    copied = copies(ids, texts, round(len(texts) * args.copy_share / originals), args.seed, vocabulary_of(prose_documents(texts)))
    first_id = max(ids) + 1
    rows = [(k, t, None) for k, t in junk] + [(None, t, original) for original, t in copied]
    if copied:
        # Junk and copies interleaved, so that copies do not all come last
        # (without copies the file stays as it always was).
        random.Random(args.seed + 2).shuffle(rows)
    count = len(rows)
    generated = {
        "id": pa.array(range(first_id, first_id + count), pa.int64()),
        "text": pa.array([t for _, t, _ in rows]),
        "junk": pa.array([k for k, _, _ in rows], pa.string()),
    }
    if copied:
        generated["copy_of"] = pa.array([c for _, _, c in rows], pa.int64())
    for name in table.column_names:
        if name not in generated:
            generated[name] = pa.nulls(count, table.schema.field(name).type)
    original = table.append_column("junk", pa.nulls(len(texts), pa.string()))
    if copied:
        original = original.append_column("copy_of", pa.nulls(len(texts), pa.int64()))
    generated = pa.table({name: generated[name] for name in original.column_names}, schema=original.schema)
    out = pa.concat_tables([original, generated])
    tmp = args.out + ".tmp"
    pq.write_table(out, tmp, compression="zstd", row_group_size=8192)
    os.replace(tmp, args.out)
    print(
        f"{args.out}: {out.num_rows} documents, {len(junk)} junk ({100 * len(junk) / out.num_rows:.1f}%), "
        f"{len(copied)} copies ({100 * len(copied) / out.num_rows:.1f}%)"
    )


if __name__ == "__main__":
    main()
