"""Three small tokenizers of the shapes real embedding models use, and Hugging Face's outputs for them.

Writes, each tokenizer into its own directory with a tokenizer.json that `tokenizers.Tokenizer.from_file`
loads and a tokenizer_config.json (model_max_length 512 and the seven special tokens as strings):

  Fixtures/tokenizer/unigram/          XLM-RoBERTa's shape. sentencepiece 0.2.3 trains a Unigram model
                                       (nmt_nfkc normalisation, 3,000 pieces, character coverage
                                       0.9995, no byte fallback, one thread, no shuffling) on the
                                       corpus lines; transformers' XLMRobertaConverter turns it into
                                       a tokenizer.json as transformers does for XLMRobertaTokenizer:
                                       <s> <pad> </s> <unk> at 0-3, the pieces after SentencePiece's
                                       own three specials at 4-3000, <mask> at 3001; normalizer
                                       Sequence[Precompiled (the nmt_nfkc charsmap), Strip(right),
                                       Replace(/ {2,}/, "\u2581")]; Metaspace (prepend_scheme
                                       "always"); post-processor "<s> $A </s>" / "<s> $A </s> </s> $B
                                       </s>". The added tokens are XLM-R's: the five specials, <mask>
                                       with lstrip.
  Fixtures/tokenizer/bpe/              RoBERTa's shape: byte-level BPE trained by `tokenizers`
                                       (BpeTrainer, 2,000 ids, min_frequency 2, the 256 byte
                                       characters as initial alphabet) behind ByteLevel(
                                       add_prefix_space=False); <s> <pad> </s> <unk> <mask> at 0-4,
                                       <mask> with lstrip; RobertaProcessing(("</s>", 2), ("<s>", 0),
                                       trim_offsets=True, add_prefix_space=False); ByteLevel decoder.
                                       The model is rebuilt with RobertaConverter's options
                                       (continuing_subword_prefix "", end_of_word_suffix "",
                                       fuse_unk false, no unk token).
  Fixtures/tokenizer/wordpiece-mpnet/  MPNet's shape: WordPiece (2,000 ids, "##" continuation,
                                       100 characters per word) behind BertNormalizer(lowercase=True)
                                       and BertPreTokenizer; <s> <pad> </s> [UNK] <mask> at 0-4
                                       (MPNet's unknown token is [UNK]), <mask> with lstrip;
                                       post-processor as transformers' MPNetConverter writes it:
                                       "<s>:0 $A:0 </s>:0" / "<s>:0 $A:0 </s>:0 </s>:0 $B:1 </s>:1";
                                       WordPiece decoder.
  Fixtures/tokenizer/pipeline-golden.json
                                       for each tokenizer: ids of every corpus line, of the shared
                                       texts, of 20 pairs (with type ids) and of truncated texts and
                                       pairs (streaming_weights_testing.tokenizer_references defines
                                       them and the format; scripts/fetch-tokenizers writes the same
                                       for GPT-2 and XLM-R's real vocabularies).

Why 3,000 Unigram pieces: SentencePiece needs a piece for every character it keeps, 1,718 at
coverage 0.9995 (1,769 at 1.0) for this corpus, so about 1,000 is not possible; 3,000 leaves some
1,280 longer pieces for the lattice to choose between, and the characters outside the coverage
(in 52 corpus lines) exercise <unk>.

Why WordPiece is not trained with WordPieceTrainer: in tokenizers 0.23.3 it is not deterministic
(the "##x" pieces get ids in hash-map order, which changes merge tie-breaks and so the vocabulary
from one run to the next). Instead the words (normalised, pre-tokenized) are written with every
non-initial character replaced by a private character of its own, BpeTrainer learns merges over
those with a fixed initial alphabet (the word-initial and the continuation characters that occur
at least 3 times; words with any other character are left out, they are [UNK] anyway), and the
private characters are written back as "##" pieces. Ids: the five specials, the alphabet by code
point (word-initial characters, then "##" ones), then the merges in order.

Deterministic: fixed seeds, one thread, no shuffling; the generator trains each tokenizer twice and
checks both give the same tokenizer.json, and running it again gives the same bytes. Cross-checks
(printed): the Unigram tokenizer against sentencepiece itself, and each directory loaded back with
transformers' AutoTokenizer. Run with the project's venv (needs sentencepiece 0.2.3 besides
tokenizers 0.23.3 and transformers 5.24.0; scripts/fetch-tokenizers installs all three):

    .venv/bin/python Fixtures/generators/make_pipeline_tokenizers.py
"""

import os

# One thread in the Rust tokenizer (another process may be using the cores) and no fork warnings.
os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import collections
import io
import json
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # this file is Fixtures/generators/NAME.py
sys.path.insert(0, str(ROOT / "Tests" / "Support"))

import sentencepiece as spm
import tokenizers
import transformers
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers.convert_slow_tokenizer import XLMRobertaConverter

from streaming_weights_testing import tokenizer_references as refs

transformers.logging.set_verbosity_error()

OUT_DIR = ROOT / "Fixtures" / "tokenizer"
GOLDEN = OUT_DIR / "pipeline-golden.json"
SEED = 20260612
MAX_LEN = 512
SPM_VOCAB = 3000
SPM_COVERAGE = 0.9995
BPE_VOCAB = 2000
WORDPIECE_VOCAB = 2000
WORDPIECE_MIN_CHAR_COUNT = 3

NAMES = ["unigram", "bpe", "wordpiece-mpnet"]
CONFIGS = {
    "unigram": refs.tokenizer_config("XLMRobertaTokenizer", MAX_LEN, **refs.XLMR_SPECIALS),
    "bpe": refs.tokenizer_config("RobertaTokenizer", MAX_LEN, bos_token="<s>", eos_token="</s>",
                                 unk_token="<unk>", sep_token="</s>", cls_token="<s>", pad_token="<pad>",
                                 mask_token="<mask>", add_prefix_space=False),
    "wordpiece-mpnet": refs.tokenizer_config("MPNetTokenizer", MAX_LEN, bos_token="<s>", eos_token="</s>",
                                             unk_token="[UNK]", sep_token="</s>", cls_token="<s>",
                                             pad_token="<pad>", mask_token="<mask>", do_lower_case=True),
}


def special(content, lstrip=False):
    return AddedToken(content, lstrip=lstrip, rstrip=False, single_word=False, normalized=False, special=True)


# --------------------------------------------------------------------------------------------
# Unigram (XLM-R)
# --------------------------------------------------------------------------------------------

def train_sentencepiece(lines, model_path):
    spm.set_random_generator_seed(SEED)
    model = io.BytesIO()  # not model_prefix: the model would record the (temporary) path
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model,
        model_type="unigram", vocab_size=SPM_VOCAB, character_coverage=SPM_COVERAGE,
        normalization_rule_name="nmt_nfkc", byte_fallback=False, num_threads=1,
        seed_sentencepiece_size=1000000, shuffle_input_sentence=False, input_sentence_size=0,
        max_sentence_length=1 << 16, minloglevel=2)
    model_path.write_bytes(model.getvalue())
    return model_path


class _SlowXLMRobertaStandIn:
    """What XLMRobertaConverter reads from a slow XLMRobertaTokenizer (gone in transformers 5)."""

    add_prefix_space = True  # XLM-R's default: Metaspace prepend_scheme "always"

    def __init__(self, vocab_file):
        self.vocab_file = str(vocab_file)

    def convert_tokens_to_ids(self, token):
        return {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}[token]


def build_unigram(lines, workdir):
    model = train_sentencepiece(lines, workdir / "sentencepiece.bpe.model")
    tok = XLMRobertaConverter(_SlowXLMRobertaStandIn(model)).converted()
    # XLMRobertaTokenizerFast's special tokens; <mask> is the last id.
    tok.add_special_tokens([special("<s>"), special("<pad>"), special("</s>"), special("<unk>"),
                            special("<mask>", lstrip=True)])
    assert tok.get_vocab_size() == SPM_VOCAB + 2 and tok.token_to_id("<mask>") == SPM_VOCAB + 1
    return tok, model


def sentencepiece_mismatches(model, tok, lines):
    """Lines where sentencepiece itself (ids mapped as XLM-R's fairseq dictionary does) differs."""
    sp = spm.SentencePieceProcessor(model_file=str(model))

    def hf(i):
        return {0: 3, 1: 0, 2: 2}.get(i, i + 1)

    bad = []
    for k, line in enumerate(lines):
        ids = [0] + [hf(i) for i in sp.encode(line)] + [2]
        if ids != tok.encode(line).ids:
            bad.append(k)
    return bad


# --------------------------------------------------------------------------------------------
# Byte-level BPE (RoBERTa)
# --------------------------------------------------------------------------------------------

def build_bpe(lines):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=BPE_VOCAB, min_frequency=2, show_progress=False,
        special_tokens=[special("<s>"), special("<pad>"), special("</s>"), special("<unk>"),
                        special("<mask>", lstrip=True)],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(lines, trainer=trainer)
    trained = json.loads(tok.to_str())["model"]
    vocab = trained["vocab"]
    merges = [tuple(m) for m in trained["merges"]]
    # As RobertaConverter builds it.
    out = Tokenizer(models.BPE(vocab=vocab, merges=merges, dropout=None, continuing_subword_prefix="",
                               end_of_word_suffix="", fuse_unk=False))
    out.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    out.decoder = decoders.ByteLevel()
    out.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True,
                                                      add_prefix_space=False)
    out.add_special_tokens([special("<s>"), special("<pad>"), special("</s>"), special("<unk>"),
                            special("<mask>", lstrip=True)])
    assert [out.token_to_id(t) for t in ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]] == [0, 1, 2, 3, 4]
    assert out.get_vocab_size() == BPE_VOCAB
    return out


# --------------------------------------------------------------------------------------------
# WordPiece (MPNet)
# --------------------------------------------------------------------------------------------

WORDPIECE_SPECIALS = ["<s>", "<pad>", "</s>", "[UNK]", "<mask>"]


def wordpiece_words(lines, normalizer, pre_tokenizer):
    counts = collections.Counter()
    for line in lines:
        counts.update(w for w, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(line)))
    return counts


def build_wordpiece(lines):
    normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                            lowercase=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    words = wordpiece_words(lines, normalizer, pre_tokenizer)
    initial, continuation = collections.Counter(), collections.Counter()
    for word, n in words.items():
        initial[word[0]] += n
        for c in word[1:]:
            continuation[c] += n
    keep_initial = {c for c, n in initial.items() if n >= WORDPIECE_MIN_CHAR_COUNT}
    keep_cont = sorted((c for c, n in continuation.items() if n >= WORDPIECE_MIN_CHAR_COUNT), key=ord)
    # A private character for each continuation character, none of them in the words.
    used = {c for word in words for c in word}
    images, cp = {}, 0x100000
    for c in keep_cont:
        while chr(cp) in used:
            cp += 1
        images[c] = chr(cp)
        cp += 1
    back = {v: k for k, v in images.items()}

    def encode_word(w):
        if w[0] not in keep_initial or any(c not in images for c in w[1:]):
            return None
        return w[0] + "".join(images[c] for c in w[1:])

    training = []
    for word in sorted(words):
        coded = encode_word(word)
        if coded is not None:
            training.extend([coded] * words[word])
    alphabet = sorted(keep_initial, key=ord) + [images[c] for c in keep_cont]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.BpeTrainer(vocab_size=WORDPIECE_VOCAB, min_frequency=2, show_progress=False,
                                  special_tokens=WORDPIECE_SPECIALS, initial_alphabet=alphabet,
                                  limit_alphabet=len(alphabet))
    tok.train_from_iterator(training, trainer=trainer)
    trained = json.loads(tok.to_str())["model"]["vocab"]
    ordered = sorted(trained.items(), key=lambda kv: kv[1])
    assert [t for t, _ in ordered[:5]] == WORDPIECE_SPECIALS

    def decode_piece(t):
        if t in WORDPIECE_SPECIALS:
            return t
        if t[0] in back:
            assert all(c in back for c in t), t
            return "##" + "".join(back[c] for c in t)
        assert all(c in back for c in t[1:]), t
        return t[0] + "".join(back[c] for c in t[1:])

    vocab = {}
    for t, i in ordered:
        piece = decode_piece(t)
        assert piece not in vocab
        vocab[piece] = len(vocab)
    out = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=100,
                                     continuing_subword_prefix="##"))
    out.normalizer = normalizer
    out.pre_tokenizer = pre_tokenizer
    out.post_processor = processors.TemplateProcessing(
        single="<s>:0 $A:0 </s>:0", pair="<s>:0 $A:0 </s>:0 </s>:0 $B:1 </s>:1",
        special_tokens=[("<s>", 0), ("</s>", 2)])
    out.decoder = decoders.WordPiece(prefix="##")
    out.add_special_tokens([special("<s>"), special("<pad>"), special("</s>"), special("[UNK]"),
                            special("<mask>", lstrip=True)])
    assert [out.token_to_id(t) for t in WORDPIECE_SPECIALS] == [0, 1, 2, 3, 4]
    stats = {"alphabet": len(alphabet), "words": len(words),
             "training_words": len({w for w in words if encode_word(w) is not None})}
    return out, stats


# --------------------------------------------------------------------------------------------
# Checks and output
# --------------------------------------------------------------------------------------------

def transformers_mismatches(directory, entry, lines):
    """Corpus lines where transformers' AutoTokenizer on the written directory differs from the golden."""
    auto = transformers.AutoTokenizer.from_pretrained(str(directory))
    got = auto(lines)["input_ids"]
    return type(auto).__name__, [i for i, ids in enumerate(got) if list(ids) != entry["corpus"][i]]


def main():
    lines = refs.read_corpus(refs.CORPUS)
    assert len(lines) == 2560

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "a").mkdir()
        (tmp / "b").mkdir()
        unigram, model = build_unigram(lines, tmp / "a")
        unigram_again, model_again = build_unigram(lines, tmp / "b")
        assert model.read_bytes() == model_again.read_bytes(), "sentencepiece training is not deterministic"
        assert unigram.to_str() == unigram_again.to_str()
        spm_bad = sentencepiece_mismatches(model, unigram, lines)
        spm_pieces = spm.SentencePieceProcessor(model_file=str(model)).get_piece_size()

        bpe = build_bpe(lines)
        assert bpe.to_str() == build_bpe(lines).to_str(), "BPE training is not deterministic"
        wordpiece, wp_stats = build_wordpiece(lines)
        assert wordpiece.to_str() == build_wordpiece(lines)[0].to_str(), "WordPiece training is not deterministic"

        toks = {"unigram": unigram, "bpe": bpe, "wordpiece-mpnet": wordpiece}
        paths, entries, drift, changed = {}, {}, {}, {}
        for name in NAMES:
            paths[name] = refs.write_tokenizer(toks[name], OUT_DIR / name, CONFIGS[name])
            size = paths[name].stat().st_size
            assert size < 1_000_000, f"{paths[name]} is {size} bytes"
            drift[name] = refs.score_drift(toks[name], paths[name])
            tok = Tokenizer.from_file(str(paths[name]))
            changed[name] = (refs.check_same_ids(toks[name], tok, lines),
                             refs.check_same_ids(toks[name], tok, refs.pipeline_texts()))
            entries[name] = refs.golden_entry(tok, lines)

    longest = {name: max(len(x) for x in entries[name]["corpus"]) for name in NAMES}
    for name in NAMES:
        assert longest[name] <= MAX_LEN, f"{name}: a corpus line gives {longest[name]} ids"
        assert max(len(t["ids"]) for t in entries[name]["texts"]) > 600

    generator = (f"Fixtures/generators/make_pipeline_tokenizers.py (seed {SEED}, texts "
                 f"streaming_weights_testing.tokenizer_references seed {refs.TEXT_SEED}); Python "
                 f"{platform.python_version()}")
    golden = {
        "generator": generator,
        "tokenizers_version": tokenizers.__version__,
        "transformers_version": transformers.__version__,
        "sentencepiece_version": spm.__version__,
        "corpus_path": "Fixtures/tokenizer/corpus.txt",
        "corpus_sha256": refs.sha256(refs.CORPUS),
        "tokenizer_json_sha256": {name: refs.sha256(paths[name]) for name in NAMES},
        "encoding": "tokenizers.Tokenizer.from_file(tokenizer.json).encode(text) / .encode(a, b): special "
                    "tokens added, no padding; no truncation except in 'truncated' (enable_truncation("
                    "max_length, strategy='longest_first'), max_length counts the special tokens)",
        "tokenizers": entries,
    }
    refs.write_golden(GOLDEN, golden, expand=2)

    # Summary.
    print(generator)
    for name in NAMES:
        tok = Tokenizer.from_file(str(paths[name]))
        print(f"{name}: {paths[name].relative_to(ROOT)} {paths[name].stat().st_size} bytes, "
              f"{tok.get_vocab_size()} ids, sha256 {refs.sha256(paths[name])}")
        print(refs.describe(tok))
        print("  " + refs.summary(name, entries[name]) + f", longest corpus line {longest[name]} ids")
        unk = 3  # <unk> or [UNK]: id 3 in all three
        print(f"  corpus lines with the unknown id: {sum(unk in x for x in entries[name]['corpus'])}")
        if name == "unigram":
            print(f"  scores read back 1 ulp off by tokenizers: {drift[name]} of {tok.get_vocab_size()}; ids "
                  f"that changes: {changed[name][0]} corpus lines, {changed[name][1]} texts")
    print(f"golden: {GOLDEN.relative_to(ROOT)} {GOLDEN.stat().st_size} bytes")
    print(f"sentencepiece: {spm_pieces} pieces; vs the converted tokenizer.json: {len(spm_bad)} of "
          f"{len(lines)} corpus lines differ (informational)")
    for i in spm_bad[:5]:
        print(f"    line {i}: {lines[i]!r}")
    print(f"wordpiece: alphabet {wp_stats['alphabet']}, {wp_stats['training_words']} of "
          f"{wp_stats['words']} distinct words trained on")
    for name in NAMES:
        cls, bad = transformers_mismatches(OUT_DIR / name, entries[name], lines)
        print(f"transformers AutoTokenizer ({cls}) on {name}/: {len(bad)} corpus lines differ (informational)")
        for i in bad[:3]:
            print(f"    line {i}: {lines[i]!r}")


if __name__ == "__main__":
    main()
