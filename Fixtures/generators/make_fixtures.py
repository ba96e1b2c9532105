"""Regenerates Fixtures/: the bert-tiny model, golden outputs from Hugging Face transformers, and
safetensors files written by Python's safetensors. Run through scripts/make-fixtures."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import safetensors
import torch
import transformers
from safetensors.torch import save_file
from transformers import AutoTokenizer, BertConfig, BertModel

ROOT = Path(__file__).resolve().parents[2]  # this file is Fixtures/generators/NAME.py
FIXTURES = ROOT / "Fixtures"
MINILM = ROOT / "models" / "all-MiniLM-L6-v2"
SEED = 20261129

# Sentences for the golden outputs: plain, punctuation, accents, CJK, unknown characters,
# a long one, an empty one; lengths differ so the batch is padded.
SENTENCES = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "Streaming weights lets a small machine run a large model, one layer at a time.",
    "Café déjà vu: naïve résumé façade.",
    "東京は日本の首都です。",
    "Emoji 🤗 and symbols © ™ are rare in BERT's vocabulary.",
    "",
    "It's 3:45pm -- are we there yet?!?",
    "A considerably longer sentence, written to make the padded batch stretch well past the shorter "
    "ones, so that masking the padding positions is really exercised by the golden outputs.",
]
PAIRS = [
    ("How old are you?", "I am six years old."),
    ("Where is the station?", "Turn left at the bank, then walk two blocks."),
]


def make_bert_tiny(target: Path) -> None:
    """A BERT with prajjwal1/bert-tiny's architecture and random weights drawn with a fixed seed.

    Every parameter is redrawn, biases and layer norms included, so that a test comparing outputs
    notices a bias or a layer norm parameter that is ignored or misplaced."""
    config = BertConfig(
        vocab_size=30522,
        hidden_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=512,
        max_position_embeddings=512,
        type_vocab_size=2,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        layer_norm_eps=1e-12,
        pad_token_id=0,
    )
    torch.manual_seed(SEED)
    model = BertModel(config, add_pooling_layer=True).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "LayerNorm.weight" in name:
                parameter.copy_(1.0 + 0.1 * torch.randn_like(parameter))
            elif name.endswith("bias"):
                parameter.copy_(0.05 * torch.randn_like(parameter))
            elif "embeddings" in name:
                parameter.copy_(0.5 * torch.randn_like(parameter))
            else:
                parameter.copy_(0.08 * torch.randn_like(parameter))
    if target.exists():
        shutil.rmtree(target)
    model.save_pretrained(target, safe_serialization=True)
    # The tokenizer files a BERT checkpoint classically ships: bert-base-uncased's vocabulary
    # (taken from all-MiniLM-L6-v2, which uses it) and the uncased tokenizer settings.
    shutil.copyfile(MINILM / "vocab.txt", target / "vocab.txt")
    special = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
               "mask_token": "[MASK]"}
    tokenizer_config = {"do_lower_case": True, "strip_accents": None, "tokenize_chinese_chars": True,
                        "model_max_length": 512, "tokenizer_class": "BertTokenizer", **special}
    (target / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2) + "\n")
    (target / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n")


def golden(model_dir: Path, output: Path, with_sentence_embedding: bool) -> None:
    """Runs transformers' BertModel (eval mode, float32) over SENTENCES as one padded batch and
    over PAIRS, and stores inputs and outputs."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = BertModel.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
    tensors = {}
    for prefix, batch in (("", SENTENCES), ("pair_", PAIRS)):
        if prefix:
            encoded = tokenizer([a for a, _ in batch], [b for _, b in batch], padding=True, return_tensors="pt")
        else:
            encoded = tokenizer(batch, padding=True, return_tensors="pt")
        with torch.no_grad():
            result = model(**encoded)
        tensors[prefix + "input_ids"] = encoded["input_ids"].to(torch.int64)
        tensors[prefix + "attention_mask"] = encoded["attention_mask"].to(torch.int64)
        tensors[prefix + "token_type_ids"] = encoded["token_type_ids"].to(torch.int64)
        tensors[prefix + "last_hidden_state"] = result.last_hidden_state.contiguous()
        tensors[prefix + "pooler_output"] = result.pooler_output.contiguous()
        if with_sentence_embedding and not prefix:
            # sentence-transformers' all-MiniLM-L6-v2 pipeline: masked mean pooling, then L2 normalisation.
            mask = encoded["attention_mask"].unsqueeze(-1).to(torch.float32)
            summed = (result.last_hidden_state * mask).sum(dim=1)
            mean = summed / mask.sum(dim=1).clamp(min=1e-9)
            tensors["sentence_embedding"] = torch.nn.functional.normalize(mean, p=2, dim=1).contiguous()
    output.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, output, metadata={
        "model": model_dir.name,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
    })


def python_safetensors(target: Path) -> None:
    """Small files written by Python's safetensors, one tensor per dtype, for the reader's tests.

    Values are i * 0.5 - 3 for floating types and i - 3 (or i for unsigned) for integers: exact in
    every dtype, so the Swift test can recompute them."""
    target.mkdir(parents=True, exist_ok=True)
    shape = (2, 3)
    count = 6
    floats = torch.arange(count, dtype=torch.float64).reshape(shape) * 0.5 - 3
    signed = torch.arange(count, dtype=torch.int64).reshape(shape) - 3
    unsigned = torch.arange(count, dtype=torch.int64).reshape(shape)
    tensors = {
        "f64": floats.to(torch.float64),
        "f32": floats.to(torch.float32),
        "f16": floats.to(torch.float16),
        "bf16": floats.to(torch.bfloat16),
        "i64": signed.to(torch.int64),
        "i32": signed.to(torch.int32),
        "i16": signed.to(torch.int16),
        "i8": signed.to(torch.int8),
        "u8": unsigned.to(torch.uint8),
        "u16": unsigned.to(torch.uint16),
        "u32": unsigned.to(torch.uint32),
        "u64": unsigned.to(torch.uint64),
        "bool": (unsigned % 2 == 1),
        "scalar": torch.tensor(2.5, dtype=torch.float32),
        "empty": torch.zeros((0, 3), dtype=torch.float32),
    }
    save_file(tensors, target / "python-all-dtypes.safetensors", metadata={"writer": "python safetensors"})
    save_file({"only": floats.to(torch.float32)}, target / "python-no-metadata.safetensors")


def main() -> None:
    if not (MINILM / "vocab.txt").exists():
        sys.exit("models/all-MiniLM-L6-v2 is missing: run scripts/fetch-minilm first")
    torch.set_num_threads(1)
    make_bert_tiny(FIXTURES / "bert-tiny")
    golden(FIXTURES / "bert-tiny", FIXTURES / "golden" / "bert-tiny.safetensors", with_sentence_embedding=False)
    golden(MINILM, FIXTURES / "golden" / "all-MiniLM-L6-v2.safetensors", with_sentence_embedding=True)
    # Both models use bert-base-uncased's vocabulary and settings: the same ids, or a tokenizer
    # did not load as meant.
    with safetensors.safe_open(FIXTURES / "golden" / "bert-tiny.safetensors", "np") as tiny, \
            safetensors.safe_open(FIXTURES / "golden" / "all-MiniLM-L6-v2.safetensors", "np") as minilm:
        for name in ("input_ids", "pair_input_ids"):
            if not np.array_equal(tiny.get_tensor(name), minilm.get_tensor(name)):
                sys.exit(f"{name} differ between bert-tiny and all-MiniLM-L6-v2")
    (FIXTURES / "golden" / "sentences.json").write_text(
        json.dumps({"sentences": SENTENCES, "pairs": [list(p) for p in PAIRS]}, ensure_ascii=False, indent=2) + "\n",
        encoding="utf-8",
    )
    python_safetensors(FIXTURES / "safetensors")
    print(f"fixtures written with torch {torch.__version__}, transformers {transformers.__version__}, "
          f"safetensors {safetensors.__version__}, numpy {np.__version__}")


if __name__ == "__main__":
    main()
