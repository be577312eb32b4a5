#!/usr/bin/env python3
"""A generated corpus and its whole-word WordPiece vocabulary, for timing the trainer.

    python3 bench/synthetic_corpus.py OUT_DIR [--words 30000] [--docs 6000]

Writes OUT_DIR/vocab.txt (the five special tokens, then random lowercase words) and
OUT_DIR/corpus.txt (documents of sentences of those words, a blank line between documents).
Every word is in the vocabulary, so tokenizing is a lookup per word: millions of tokens per
second on one thread, so `electra pretrain` on it measures the step, not the data path.
Deterministic for given arguments.
"""
import argparse
import os
import random


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--words", type=int, default=30000)
    ap.add_argument("--docs", type=int, default=6000)
    args = ap.parse_args()
    rng = random.Random(1)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = set()
    while len(words) < args.words:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 9))))
    words = sorted(words)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "vocab.txt"), "w") as f:
        f.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words) + "\n")
    with open(os.path.join(args.out, "corpus.txt"), "w") as f:
        for _ in range(args.docs):
            for _ in range(rng.randint(5, 15)):
                f.write(" ".join(rng.choice(words) for _ in range(rng.randint(8, 30))) + ".\n")
            f.write("\n")


if __name__ == "__main__":
    main()
