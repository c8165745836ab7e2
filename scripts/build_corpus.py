"""Builds the bundled default corpus, sql/data/corpus.parquet, from Debian packages.

Sources (install with `apt-get install wordnet-base fortunes`):
  - WordNet 3.0 glosses (wordnet-base; WordNet licence, permissive): one
    document per synset, "headword (part of speech): gloss".
  - fortune-mod's fortunes (fortunes; BSD): one document per entry, from the
    non-offensive collections.

The sample is deterministic: the same packages give the same file.
Usage: python scripts/build_corpus.py [--out sql/data/corpus.parquet] [--wordnet N]
"""

import argparse
import hashlib
import os
import re

import pyarrow as pa
import pyarrow.parquet as pq

WORDNET = "/usr/share/wordnet"
FORTUNES = "/usr/share/games/fortunes"
# Collections left out of the default corpus: jokes about groups of people.
SKIPPED_FORTUNES = {"ethnic"}
POS = {"noun": "noun", "verb": "verb", "adj": "adjective", "adv": "adverb"}


def stable_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def wordnet_documents():
    for file_pos, pos in POS.items():
        with open(os.path.join(WORDNET, f"data.{file_pos}"), encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  "):
                    continue  # licence header
                head, _, gloss = line.partition(" | ")
                fields = head.split()
                if len(fields) < 5 or not gloss.strip():
                    continue
                word = fields[4].replace("_", " ")
                word = re.sub(r"\(\w+\)$", "", word)
                yield "wordnet", word, f"{word} ({pos}): {gloss.strip()}"


def fortune_documents():
    for name in sorted(os.listdir(FORTUNES)):
        path = os.path.join(FORTUNES, name)
        if "." in name or not os.path.isfile(path) or name in SKIPPED_FORTUNES:
            continue  # .dat indexes, .u8 links, sub-directories (off/)
        with open(path, encoding="utf-8", errors="replace") as f:
            for entry in f.read().split("\n%\n"):
                text = entry.strip("\n%")
                if len(text.split()) >= 3:
                    yield "fortunes", name, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="sql/data/corpus.parquet")
    parser.add_argument("--wordnet", type=int, default=20000, help="WordNet glosses to sample")
    args = parser.parse_args()

    wordnet = sorted(wordnet_documents(), key=lambda d: stable_key(d[2]))[: args.wordnet]
    fortunes = list(fortune_documents())
    documents = sorted(wordnet + fortunes, key=lambda d: stable_key(d[2]))
    table = pa.table(
        {
            "id": pa.array(range(1, len(documents) + 1), pa.int64()),
            "source": pa.array([d[0] for d in documents]),
            "title": pa.array([d[1] for d in documents]),
            "text": pa.array([d[2] for d in documents]),
        }
    )
    tmp = args.out + ".tmp"
    pq.write_table(table, tmp, compression="zstd", row_group_size=8192)
    os.replace(tmp, args.out)
    print(f"{args.out}: {len(documents)} documents ({len(wordnet)} WordNet, {len(fortunes)} fortunes), "
          f"{os.path.getsize(args.out) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
