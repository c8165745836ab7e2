"""Builds the bundled default corpus, sql/data/corpus.parquet, from Debian packages.

Sources (install with `apt-get install wordnet-base dict-gcide fortunes`):
  - GCIDE, the Collaborative International Dictionary of English (dict-gcide;
    GPL-3+): one document per entry, its senses, notes and quotations joined
    into a paragraph of prose (pronunciations, etymologies and source tags
    removed).
  - WordNet 3.0 glosses (wordnet-base; WordNet licence, permissive): one
    document per synset, "headword (part of speech): gloss".
  - fortune-mod's fortunes (fortunes; BSD): one document per entry, from the
    non-offensive collections.

The mix is deliberate: long dictionary prose, short glosses, and quotes,
poems and ASCII art, so that quality filters and ratings have real work.
The sample is deterministic: the same packages give the same file.
Usage: python scripts/build_corpus.py [--out sql/data/corpus.parquet] [--gcide N] [--wordnet N]
"""

import argparse
import gzip
import hashlib
import os
import re

import pyarrow as pa
import pyarrow.parquet as pq

WORDNET = "/usr/share/wordnet"
FORTUNES = "/usr/share/games/fortunes"
GCIDE = "/usr/share/dictd/gcide"
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


def _base64_number(text: str) -> int:
    digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    n = 0
    for c in text:
        n = n * 64 + digits.index(c)
    return n


def _strip_brackets(text: str) -> str:
    # Etymologies nest brackets ([OE. appel, [ae]ppel]): remove innermost first.
    previous = None
    while previous != text:
        previous, text = text, re.sub(r"\[[^\[\]]*\]", "", text)
    return text


def gcide_documents(min_words: int):
    data = gzip.open(GCIDE + ".dict.dz").read()
    seen = set()
    with open(GCIDE + ".index", encoding="utf-8", errors="replace") as index:
        for line in index:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                continue
            span = (_base64_number(parts[1]), _base64_number(parts[2]))
            if span in seen:
                continue  # several headwords point at one entry
            seen.add(span)
            entry = data[span[0] : span[0] + span[1]].decode("utf-8", "replace").strip("\n")
            if not entry or entry.startswith("00-database"):
                continue
            head, _, body = _strip_brackets(entry).partition("\n")
            word = head.split(" \\")[0].strip()
            paragraphs = []
            for p in re.split(r"\n\s*\n", body):
                p = " ".join(p.split())
                p = re.sub(r"--\s?[A-Z][^\"]{0,40}?\.(?=\s|$)", "", p)  # "--Milton." citations
                p = p.replace("{", "").replace("}", "")
                p = re.sub(r"^(\d+\.|\([a-z]\)|Note:)\s*", "", p)  # sense numbers
                p = re.sub(r"^\((\w+\.\s*)+\)\s*", "", p)  # field labels: (Bot.)
                if not paragraphs:
                    p = re.sub(r"^([a-z]{1,4}\.\s*)+", "", p)  # leftover part-of-speech marks
                p = " ".join(p.split())
                if len(p.split()) >= 4 and not p.startswith("Syn:"):
                    paragraphs.append(p)
            text = f"{word}: " + " ".join(paragraphs)
            if paragraphs and len(text.split()) >= min_words:
                yield "gcide", word, text


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
    parser.add_argument("--gcide", type=int, default=16000, help="GCIDE entries (of 50+ words) to sample")
    parser.add_argument("--wordnet", type=int, default=6000, help="WordNet glosses to sample")
    args = parser.parse_args()

    gcide = sorted(gcide_documents(50), key=lambda d: stable_key(d[2]))[: args.gcide]
    wordnet = sorted(wordnet_documents(), key=lambda d: stable_key(d[2]))[: args.wordnet]
    fortunes = list(fortune_documents())
    documents = sorted(gcide + wordnet + fortunes, key=lambda d: stable_key(d[2]))
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
    print(f"{args.out}: {len(documents)} documents ({len(gcide)} GCIDE, {len(wordnet)} WordNet, "
          f"{len(fortunes)} fortunes), "
          f"{os.path.getsize(args.out) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
