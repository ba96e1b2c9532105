"""Regenerates the tiny random-weight encoders of other families than BERT (XLM-R, RoBERTa,
DistilBERT, MPNet), three sequence-classification (reranker) models (bert-reranker-tiny, a BERT of
its own, xlm-r-tiny-reranker, on xlm-r-tiny's encoder, and distilbert-reranker-tiny, on
distilbert-tiny's encoder), and their golden outputs from Hugging Face transformers. Run through
scripts/make-fixtures, after make_fixtures.py (DistilBERT, its reranker and the BERT reranker copy
Fixtures/bert-tiny's vocabulary and tokenizer settings).

Every model is built with transformers' own classes (`AutoConfig.for_model` + `AutoModel.from_config`)
and every parameter is then redrawn as make_fixtures.py does for bert-tiny: weights N(0, 0.08),
embeddings N(0, 0.5) (MPNet's relative attention bias included), biases N(0, 0.05), layer-norm
scales 1 + N(0, 0.1). Parameters are classified by the type of the module that owns them (not by
name, since DistilBERT's layer norms are not called LayerNorm) and drawn in `named_parameters()`
order from a `torch.Generator` seeded per model (SEEDS below), so transformers' own initialisation
does not affect the result. Deterministic: running it again gives the same bytes."""

import json
import shutil
import sys
from pathlib import Path

import torch
import transformers
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer
from transformers import (AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoTokenizer,
                          BertForSequenceClassification, DistilBertForSequenceClassification,
                          XLMRobertaForSequenceClassification)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_fixtures  # noqa: E402  (our generator: FIXTURES, SENTENCES and PAIRS)

FIXTURES = make_fixtures.FIXTURES
GOLDEN = FIXTURES / "golden"
TOKENIZERS = FIXTURES / "tokenizer"
BERT_TINY = FIXTURES / "bert-tiny"

# One seed per model (bert-tiny is 20261129, Fixtures/checkpoints 20261130).
SEEDS = {
    "xlm-r-tiny": 20261201,
    "roberta-tiny": 20261202,
    "distilbert-tiny": 20261203,
    "mpnet-tiny": 20261204,
    "bert-reranker-tiny": 20261205,  # every parameter, pooler and classifier included
    "xlm-r-tiny-reranker": 20261206,  # the classification head only; the encoder is xlm-r-tiny's
    # (20261207 is mpnet-tiny-dense's Dense layer, in make_sentence_transformer_fixtures.py)
    "distilbert-reranker-tiny": 20261208,  # pre_classifier and classifier only; the encoder is distilbert-tiny's
}

# Query/passage pairs for the rerankers: a relevant and an unrelated passage per query, of
# different lengths so the batch is padded.
RERANK_PAIRS = [
    ("How many people live in Berlin?",
     "Berlin has a population of about 3.7 million registered inhabitants, making it the most "
     "populous city of the European Union."),
    ("How many people live in Berlin?", "New York City is famous for the Statue of Liberty."),
    ("What is a safetensors file?",
     "A safetensors file stores tensors after a small JSON header that gives each tensor's dtype, "
     "shape and byte offsets."),
    ("What is a safetensors file?", "Bananas are rich in potassium."),
]

# Prose cycled word by word to build the long texts (MPNet: past the 128-token distance at which
# its relative-position buckets saturate; XLM-R: up to the last rows of the position table).
LONG_WORDS = (
    "Streaming the weights of a model from disk one layer at a time lets a machine with little "
    "memory run a network far larger than its RAM: each layer is read, applied to the hidden "
    "states of the whole batch, and released before the next one is loaded, while the operating "
    "system's page cache keeps the recently used files warm. Attention masks keep the padding "
    "positions out of every softmax, and the position embeddings give each token its place in "
    "the sentence, 12 or 345 or 6789 positions away from the start."
).split()
SHORT_TEXT = "A short text in the same batch."


def draw_parameters(model: torch.nn.Module, seed: int) -> None:
    """Redraws every parameter of model with make_fixtures.py's distributions, in named_parameters()
    order, from a generator seeded with seed."""
    owner = {}
    for module_name, module in model.named_modules():
        for parameter_name, _ in module.named_parameters(recurse=False):
            owner[f"{module_name}.{parameter_name}" if module_name else parameter_name] = module
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            module = owner[name]
            noise = torch.randn(parameter.shape, generator=generator, dtype=torch.float32)
            if isinstance(module, torch.nn.LayerNorm):
                value = 1.0 + 0.1 * noise if name.endswith("weight") else 0.05 * noise
            elif isinstance(module, torch.nn.Embedding):
                value = 0.5 * noise
            elif isinstance(module, torch.nn.Linear):
                value = 0.08 * noise if name.endswith("weight") else 0.05 * noise
            else:
                raise SystemExit(f"no rule for {name} ({type(module).__name__})")
            parameter.copy_(value)


def save_golden(tensors: dict, output: Path, metadata: dict) -> None:
    """save_file, then the __metadata__ entries put in sorted order: safetensors keeps them in a Rust
    HashMap, whose order changes from run to run, which would change the file's bytes. The header
    keeps its length (the same entries, reordered), so the data offsets stay valid."""
    save_file(tensors, output, metadata=metadata)
    data = bytearray(output.read_bytes())
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + length].decode("utf-8"))
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    encoded = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if len(encoded) > length or json.loads(data[8:8 + length]) != json.loads(encoded):
        raise SystemExit(f"{output}: cannot reorder the metadata in place")
    data[8:8 + length] = encoded + b" " * (length - len(encoded))  # safetensors pads with spaces
    output.write_bytes(bytes(data))
    reloaded = load_file(output)
    if reloaded.keys() != tensors.keys() or not all(torch.equal(reloaded[k], v) for k, v in tensors.items()):
        raise SystemExit(f"{output}: does not read back")


def fresh_dir(target: Path) -> Path:
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    return target


def save_model(model: torch.nn.Module, target: Path, tokenizer_files: list[Path]) -> None:
    model.save_pretrained(target)  # safetensors: transformers 5 writes nothing else
    for source in tokenizer_files:
        shutil.copyfile(source, target / source.name)
    written = sorted(p.name for p in target.iterdir())
    if "model.safetensors" not in written or any(n.endswith(".bin") for n in written):
        raise SystemExit(f"{target}: unexpected files {written}")


def bert_tiny_tokenizer_files() -> list[Path]:
    """bert-tiny's vocabulary and settings, which DistilBERT and the BERT rerankers copy."""
    files = [BERT_TINY / n for n in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json")]
    return files + ([BERT_TINY / "tokenizer.json"] if (BERT_TINY / "tokenizer.json").exists() else [])


def make_encoder(name: str, model_type: str, tokenizer_dir: Path | None, auto_class=AutoModel,
                 **config_fields) -> torch.nn.Module:
    config = AutoConfig.for_model(model_type, **config_fields)
    model = auto_class.from_config(config, dtype=torch.float32).eval()
    draw_parameters(model, SEEDS[name])
    if tokenizer_dir is None:  # DistilBERT, bert-reranker-tiny: bert-tiny's vocabulary and settings
        files = bert_tiny_tokenizer_files()
    else:
        files = [tokenizer_dir / "tokenizer.json", tokenizer_dir / "tokenizer_config.json"]
    save_model(model, fresh_dir(FIXTURES / name), files)
    return model


def long_text(tokenizer, target_tokens: int) -> str:
    """A text of LONG_WORDS (cycled) whose encoding, special tokens included, has target_tokens ids, or
    as close below as the words allow: words are appended in order while they fit, then the first
    word of LONG_WORDS that still fits, repeatedly, fills the rest."""
    def length(words):
        return len(tokenizer(" ".join(words), verbose=False)["input_ids"])

    words = []
    while length(words + [LONG_WORDS[len(words) % len(LONG_WORDS)]]) <= target_tokens:
        words.append(LONG_WORDS[len(words) % len(LONG_WORDS)])
    while length(words) < target_tokens:
        filler = next((w for w in LONG_WORDS if length(words + [w]) <= target_tokens), None)
        if filler is None:
            break
        words.append(filler)
    return " ".join(words)


def check_ids(model_dir: Path, tokenizer, texts: list) -> int:
    """Checks that AutoTokenizer gives the ids of tokenizers.Tokenizer on model_dir/tokenizer.json."""
    reference = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    for text in texts:
        pair = isinstance(text, tuple)
        expected = reference.encode(*text).ids if pair else reference.encode(text).ids
        got = tokenizer(*text)["input_ids"] if pair else tokenizer(text)["input_ids"]
        if expected != got:
            raise SystemExit(f"{model_dir.name}: AutoTokenizer and tokenizers differ on {text!r}: {got} != {expected}")
    return len(texts)


def encode(tokenizer, batch: list, pairs: bool) -> dict:
    if pairs:
        return tokenizer([a for a, _ in batch], [b for _, b in batch], padding=True, truncation=True,
                         return_tensors="pt")
    return tokenizer(batch, padding=True, truncation=True, return_tensors="pt")


def run(model, tokenizer, batch: list, pairs: bool, prefix: str, tensors: dict, uses_token_types: bool) -> None:
    encoded = encode(tokenizer, batch, pairs)
    input_ids = encoded["input_ids"].to(torch.int64)
    attention_mask = encoded["attention_mask"].to(torch.int64)
    token_type_ids = encoded.get("token_type_ids")
    token_type_ids = torch.zeros_like(input_ids) if token_type_ids is None else token_type_ids.to(torch.int64)
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
    if uses_token_types:
        inputs["token_type_ids"] = token_type_ids
    with torch.no_grad():
        result = model(**inputs)
    tensors[prefix + "input_ids"] = input_ids
    tensors[prefix + "attention_mask"] = attention_mask
    tensors[prefix + "token_type_ids"] = token_type_ids
    if hasattr(result, "logits"):
        # A cross-encoder: the logits, and the encoder's own outputs (to tell an encoder bug from a
        # head bug: the <s> state varies little between inputs, so the logits do too).
        tensors[prefix.replace("pair_", "") + "logits"] = result.logits.contiguous()
        with torch.no_grad():
            result = model.base_model(**inputs)
    tensors[prefix + "last_hidden_state"] = result.last_hidden_state.contiguous()
    if getattr(result, "pooler_output", None) is not None:
        tensors[prefix + "pooler_output"] = result.pooler_output.contiguous()


def golden(name: str, model_class, sentences: list, pairs: list, long_tokens: int | None = None,
           uses_token_types: bool = True) -> dict:
    """Runs the saved model (reloaded from its directory, eval mode, float32) over the sentences as one
    padded batch, over the pairs, and, with long_tokens, over a long and a short text; writes
    Fixtures/golden/NAME.safetensors. Returns a summary for the report."""
    model_dir = FIXTURES / name
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = model_class.from_pretrained(model_dir, dtype=torch.float32).eval()
    tensors = {}
    metadata = {"model": name, "transformers": transformers.__version__, "torch": torch.__version__}
    summary = {"tokenizer": type(tokenizer).__name__,
               "returns_token_type_ids": "token_type_ids" in tokenizer("a", "b")}
    if sentences:
        run(model, tokenizer, sentences, False, "", tensors, uses_token_types)
    run(model, tokenizer, pairs, True, "pair_", tensors, uses_token_types)
    texts = list(sentences) + [tuple(p) for p in pairs]
    if long_tokens is not None:
        long = [long_text(tokenizer, long_tokens), SHORT_TEXT]
        run(model, tokenizer, long, False, "long_", tensors, uses_token_types)
        metadata["long_texts"] = json.dumps(long, ensure_ascii=False)
        summary["long_lengths"] = tensors["long_attention_mask"].sum(dim=1).tolist()
        texts += long
    if not sentences:
        metadata["pairs"] = json.dumps([list(p) for p in pairs], ensure_ascii=False)
    if (model_dir / "tokenizer.json").exists():
        summary["ids_checked"] = check_ids(model_dir, tokenizer, texts)
    save_golden(tensors, GOLDEN / f"{name}.safetensors", metadata)
    summary["tensors"] = {k: list(v.shape) for k, v in tensors.items()}
    return summary


def start_golden_run() -> tuple[list, list]:
    """What every golden generator starts with: torch on one thread, no progress bars, and Fixtures/golden/
    sentences.json's sentences and pairs, which must be make_fixtures.py's (else it exits: the file is stale)."""
    torch.set_num_threads(1)
    transformers.utils.logging.disable_progress_bar()
    sentences_file = json.loads((GOLDEN / "sentences.json").read_text(encoding="utf-8"))
    sentences, pairs = sentences_file["sentences"], [tuple(p) for p in sentences_file["pairs"]]
    if sentences != make_fixtures.SENTENCES or pairs != list(make_fixtures.PAIRS):
        sys.exit("Fixtures/golden/sentences.json is stale: run make_fixtures.py first")
    return sentences, pairs


def main() -> None:
    sentences, pairs = start_golden_run()
    if not (BERT_TINY / "model.safetensors").exists():
        sys.exit("Fixtures/bert-tiny is missing: run make_fixtures.py first")

    unigram_vocab = Tokenizer.from_file(str(TOKENIZERS / "unigram" / "tokenizer.json")).get_vocab_size()
    bpe_vocab = Tokenizer.from_file(str(TOKENIZERS / "bpe" / "tokenizer.json")).get_vocab_size()
    mpnet_vocab = Tokenizer.from_file(str(TOKENIZERS / "wordpiece-mpnet" / "tokenizer.json")).get_vocab_size()
    # Shared sizes; layer_norm_eps 1e-5 as in xlm-roberta-base, roberta-base and all-mpnet-base-v2
    # (DistilBERT's 1e-12 is fixed in its code).
    small = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, hidden_act="gelu")
    roberta_like = dict(small, pad_token_id=1, bos_token_id=0, eos_token_id=2, max_position_embeddings=514,
                        type_vocab_size=1, layer_norm_eps=1e-5)

    xlmr = make_encoder("xlm-r-tiny", "xlm-roberta", TOKENIZERS / "unigram", vocab_size=unigram_vocab, **roberta_like)
    make_encoder("roberta-tiny", "roberta", TOKENIZERS / "bpe", vocab_size=bpe_vocab, **roberta_like)
    distilbert = make_encoder("distilbert-tiny", "distilbert", None, vocab_size=30522, dim=32, n_layers=2,
                              n_heads=2, hidden_dim=64, activation="gelu", max_position_embeddings=512,
                              sinusoidal_pos_embds=False, pad_token_id=0)
    # sinusoidal_pos_embds: transformers writes the sinusoids into position_embeddings.weight at init and
    # saves them; loading a checkpoint uses the stored table as it is. So the Swift side reads that table
    # like a learned one (EncoderArchitectureTests.sinusoidalDistilBERT: distilbert-tiny so configured
    # against distilbert-tiny's golden). Checked here: loaded with the flag, the table is the checkpoint's.
    sinusoidal = AutoModel.from_pretrained(FIXTURES / "distilbert-tiny", sinusoidal_pos_embds=True).eval()
    if not torch.equal(sinusoidal.embeddings.position_embeddings.weight,
                       distilbert.embeddings.position_embeddings.weight):
        sys.exit("distilbert-tiny with sinusoidal_pos_embds: transformers no longer loads the stored position table")
    make_encoder("mpnet-tiny", "mpnet", TOKENIZERS / "wordpiece-mpnet", vocab_size=mpnet_vocab,
                 relative_attention_num_buckets=32,
                 **{k: v for k, v in roberta_like.items() if k != "type_vocab_size"})

    # Cross-encoders (like cross-encoder/ms-marco-MiniLM-L6-v2 and BAAI/bge-reranker-base): one logit.
    # The BERT one is a model of its own, as small as the others (bert-tiny's hidden 128 would make it
    # 17.5 MB); its head reads the pooler: classifier(dropout(pooler_output)).
    bert_reranker = make_encoder("bert-reranker-tiny", "bert", None, AutoModelForSequenceClassification,
                                 num_labels=1, vocab_size=30522, max_position_embeddings=512, type_vocab_size=2,
                                 pad_token_id=0, layer_norm_eps=1e-12, **small)
    if not isinstance(bert_reranker, BertForSequenceClassification) or bert_reranker.bert.pooler is None:
        sys.exit(f"bert-reranker-tiny: expected BertForSequenceClassification with a pooler, got {type(bert_reranker)}")

    xlmr_config = AutoConfig.from_pretrained(FIXTURES / "xlm-r-tiny", num_labels=1)
    xlmr_reranker = XLMRobertaForSequenceClassification(xlmr_config).eval()
    encoder_state = {k: v for k, v in xlmr.state_dict().items() if not k.startswith("pooler.")}
    xlmr_reranker.roberta.load_state_dict(encoder_state)  # strict: the same names, no pooler
    draw_parameters(xlmr_reranker.classifier, SEEDS["xlm-r-tiny-reranker"])
    save_model(xlmr_reranker, fresh_dir(FIXTURES / "xlm-r-tiny-reranker"),
               [TOKENIZERS / "unigram" / n for n in ("tokenizer.json", "tokenizer_config.json")])

    # DistilBERT's head (like distilbert-base-uncased-finetuned-sst-2-english's, with one label) reads the
    # [CLS] state: classifier(dropout(relu(pre_classifier(h[:, 0])))); no pooler.
    distilbert_config = AutoConfig.from_pretrained(FIXTURES / "distilbert-tiny", num_labels=1)
    distilbert_reranker = DistilBertForSequenceClassification(distilbert_config).eval()
    distilbert_reranker.distilbert.load_state_dict(distilbert.state_dict())  # strict: the same names
    head = torch.nn.ModuleDict({"pre_classifier": distilbert_reranker.pre_classifier,
                                "classifier": distilbert_reranker.classifier})
    draw_parameters(head, SEEDS["distilbert-reranker-tiny"])  # pre_classifier, then classifier
    save_model(distilbert_reranker, fresh_dir(FIXTURES / "distilbert-reranker-tiny"), bert_tiny_tokenizer_files())

    report = {
        "xlm-r-tiny": golden("xlm-r-tiny", AutoModel, sentences, pairs, long_tokens=512),
        "roberta-tiny": golden("roberta-tiny", AutoModel, sentences, pairs),
        "distilbert-tiny": golden("distilbert-tiny", AutoModel, sentences, pairs, uses_token_types=False),
        "mpnet-tiny": golden("mpnet-tiny", AutoModel, sentences, pairs, long_tokens=200, uses_token_types=False),
        "bert-reranker-tiny": golden("bert-reranker-tiny", BertForSequenceClassification, [], RERANK_PAIRS),
        "xlm-r-tiny-reranker": golden("xlm-r-tiny-reranker", XLMRobertaForSequenceClassification, [], RERANK_PAIRS,
                                      uses_token_types=False),
        "distilbert-reranker-tiny": golden("distilbert-reranker-tiny", DistilBertForSequenceClassification, [],
                                           RERANK_PAIRS, uses_token_types=False),
    }
    for name, summary in report.items():
        print(name, json.dumps(summary))
    print(f"encoder fixtures written with torch {torch.__version__}, transformers {transformers.__version__}")


if __name__ == "__main__":
    main()
