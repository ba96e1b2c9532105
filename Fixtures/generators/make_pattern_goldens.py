"""Where Hugging Face `tokenizers` (Oniguruma underneath) finds a tokenizer.json regular expression's
matches, for testing the Swift pattern matcher (Sources/StreamingWeights/Tokenizer/TokenizerRegex.swift).

Writes
  Fixtures/tokenizer/pattern-golden.json
      {"tokenizers": version, "texts": [T, ...], "patterns": [{"pattern": P, "matches": [M, ...]}]}
      with the texts (the pipeline goldens' texts and the first 100 corpus lines) and, for each
      pattern below, per text the non-empty matches `Split(Regex(P))` finds there, left to right,
      as [[start, end], ...] in Unicode scalar offsets. Split does not say which of its pieces matched, so they are read from two runs: with
      behavior "isolated" every match and every stretch between is a piece; with "removed" only the
      stretches are, and the matches are the pieces of the first that the second lacks.

The patterns: the pre-tokenizer regexes of GPT-2, Llama 3, Qwen2 and GPT-4o-style (o200k)
tokenizers, then one for each construct the matcher implements (classes, Unicode properties, counted
and lazy repetition, case-insensitive groups, look-ahead, anchors, empty matches).

Deterministic: running it again gives the same bytes for the same `tokenizers` version.

    .venv/bin/python Fixtures/generators/make_pattern_goldens.py
"""

import os

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import sys
from pathlib import Path

import tokenizers
from tokenizers import Regex, pre_tokenizers

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Tests" / "Support"))
from streaming_weights_testing.tokenizer_references import (  # noqa: E402
    REPO_ROOT, pipeline_texts, read_corpus, write_golden)

CONTRACTIONS = "(?i:'s|'t|'re|'ve|'m|'ll|'d)"
PATTERNS = [
    # GPT-2 / RoBERTa (ByteLevel's own regex, as a Split would write it).
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
    # Llama 3 (cl100k).
    CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    # Qwen2.
    CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    # GPT-4o (o200k).
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+" + CONTRACTIONS + "?"
    + r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*" + CONTRACTIONS + "?"
    + r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    # One construct each.
    r"\d+", r"\D+", r"\w+", r"\W", r"\s+", r"\S+", r"\h+", r".", r"[^.]+", r"\p{P}+|\p{S}",
    r"\P{L}+", r"\p{Lu}\p{Ll}*", r"[a-f0-9]{2,4}", r"[\]\-\\^]+", r"[^\w\s]", r"\H+",
    r"[\t\n\u00e9\x41-\x43\x{1F600}]", r"\u00df|\x{10FFFF}|\x7e", r"a{2}|e{1,}|o{,1}x", r"\p{N}{3}",
    r"\bthe\b", r"\Bo\B", r"^\p{L}+|\p{L}+$", r"\A.|.\z", r".\Z",
    r"(?i)the|STR", r"(?i:[a-c]+)x|[A-C]", r"(?i)\u03c3\u03b1|k|\u00e9t\u00e9", r"(ab|a)(bc|c)?", r"e.*?e", r"e.*e",
    r"o.+?\b", r"\s+(?=\S)", r"(?!the)\p{L}+", r"x*|a", r"a|x*", r"\s*", r"(a|b)*?c|[a-z]",
    r"(?:'(?:s|t)|\p{L}{1,3})+", r"[^\s\p{L}]{2,}", r"\.\.\.|[.,;:!?]", r"(?<name>\p{Lu})(?:\p{Ll}+)",
    r" {2,}", r"\p{Zs}|\p{Cc}|\p{Cf}", r"\p{M}+", r"\p{Lo}{2}|\p{Emoji_Presentation}",
]


def matches(pattern: str, text: str) -> list[list[int]]:
    regex = Regex(pattern)
    isolated = pre_tokenizers.Split(regex, behavior="isolated").pre_tokenize_str(text)
    removed = {offsets for _, offsets in pre_tokenizers.Split(regex, behavior="removed").pre_tokenize_str(text)}
    return [list(offsets) for _, offsets in isolated if offsets not in removed]


def main() -> None:
    texts = pipeline_texts() + read_corpus()[:100]
    entries = []
    for pattern in PATTERNS:
        Regex(pattern)  # a pattern Oniguruma refuses stops the generator here
        entries.append({"pattern": pattern, "matches": [matches(pattern, text) for text in texts]})
    path = REPO_ROOT / "Fixtures" / "tokenizer" / "pattern-golden.json"
    write_golden(path, {"tokenizers": tokenizers.__version__, "texts": texts, "patterns": entries}, expand=1)
    print(f"{path}: {len(entries)} patterns x {len(texts)} texts")


if __name__ == "__main__":
    main()
