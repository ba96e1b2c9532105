"""Regenerates Fixtures/mpnet-tiny-dense/, a sentence-transformers model with a Dense module
(Transformer -> mean Pooling -> Dense 32 -> 16, tanh -> Normalize) on Fixtures/mpnet-tiny, and its
golden embeddings Fixtures/golden/mpnet-tiny-dense.safetensors from the real sentence-transformers.
Run through scripts/make-fixtures, after make_encoder_fixtures.py (it writes Fixtures/mpnet-tiny).

sentence-transformers is not in .venv: scripts/make-fixtures installs sentence-transformers 5.3.0
and the dependencies .venv lacks (scikit-learn, scipy, joblib, cloudpickle, narwhals), pinned and
with --no-deps, into .build/st-pkgs and runs this with PYTHONPATH=.build/st-pkgs. 5.3.0 is the
last release that saves the layout the Hub's models have and SentenceEmbeddingSettings reads:
modules.json types `sentence_transformers.models.X`, `1_Pooling/config.json` with
`word_embedding_dimension` and `pooling_mode_*` booleans, `sentence_bert_config.json` with
`max_seq_length` and `do_lower_case`. From 5.4.0 on the classes moved (6.3.0 saves types such as
`sentence_transformers.base.modules.dense.Dense` and a Pooling config with `embedding_dimension`
and `pooling_mode: "mean"`); the layout checks below fail on such a version rather than write it.

The model is built and saved with sentence-transformers' own classes (`models.Transformer`,
`models.Pooling`, `models.Dense`, `models.Normalize`, `SentenceTransformer(modules=...)`,
`save(..., safe_serialization=True)`); the Dense weights are redrawn from a `torch.Generator`
seeded with DENSE_SEED (weight N(0, 0.3), then bias N(0, 0.1)), large enough that tanh is neither
linear nor saturated. After the save, the root's transformer files are replaced by byte copies of
Fixtures/mpnet-tiny's (the save re-serialises tokenizer.json, with transformers' RobertaProcessing
in place of the file's TemplateProcessing, so a pair's second text gets type id 0, not 1, and adds
`backend`, `is_local` and more to tokenizer_config.json; the ids are checked equal first), and the empty 3_Normalize/ folder, which git cannot hold (the Hub's models
have none either), is removed. Deterministic: running it again gives the same bytes."""

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything here is local

import numpy as np
import torch
import transformers
from safetensors.numpy import load_file as load_numpy
from tokenizers import Tokenizer

try:
    import sentence_transformers
    from sentence_transformers import SentenceTransformer, models
except ImportError as error:
    sys.exit(f"sentence-transformers is not importable ({error}): run scripts/make-fixtures, which installs "
             "it into .build/st-pkgs, or set PYTHONPATH to such an install")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_fixtures  # noqa: E402  (our generator: FIXTURES, SENTENCES and PAIRS)
from make_encoder_fixtures import save_golden, start_golden_run  # noqa: E402  (sorted __metadata__; setup)

FIXTURES = make_fixtures.FIXTURES
GOLDEN = FIXTURES / "golden"
SOURCE = FIXTURES / "mpnet-tiny"
TARGET = FIXTURES / "mpnet-tiny-dense"
NAME = "mpnet-tiny-dense"
DENSE_SEED = 20261207  # after make_encoder_fixtures.py's 20261201..20261206
IN_FEATURES, OUT_FEATURES = 32, 16
TRANSFORMER_FILES = ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]

# What the classic layout must say (checked after the save).
EXPECTED_MODULES = [
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
    {"idx": 3, "name": "3", "path": "3_Normalize", "type": "sentence_transformers.models.Normalize"},
]
EXPECTED_CONFIGS = {
    "sentence_bert_config.json": {"max_seq_length": 512, "do_lower_case": False},
    "1_Pooling/config.json": {
        "word_embedding_dimension": IN_FEATURES, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False, "pooling_mode_lasttoken": False, "include_prompt": True},
    "2_Dense/config.json": {"in_features": IN_FEATURES, "out_features": OUT_FEATURES, "bias": True,
                            "activation_function": "torch.nn.modules.activation.Tanh"},
}


def tree(root: Path) -> list[str]:
    """Every file and folder under root, relative, with file sizes and the first 16 hex digits of SHA-256."""
    lines = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_dir():
            lines.append(f"{relative}/")
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
            lines.append(f"{relative} {path.stat().st_size} {digest}")
    return lines


def build(texts: list) -> dict:
    """Builds the model with sentence-transformers' classes, saves it to TARGET and tidies it up.
    Returns a summary for the report."""
    transformer = models.Transformer(str(SOURCE), max_seq_length=512, do_lower_case=False)
    if transformer.get_word_embedding_dimension() != IN_FEATURES:
        sys.exit(f"{SOURCE}: hidden size {transformer.get_word_embedding_dimension()}, expected {IN_FEATURES}")
    pooling = models.Pooling(IN_FEATURES, pooling_mode="mean")
    dense = models.Dense(in_features=IN_FEATURES, out_features=OUT_FEATURES, bias=True,
                         activation_function=torch.nn.Tanh())
    generator = torch.Generator().manual_seed(DENSE_SEED)
    with torch.no_grad():
        dense.linear.weight.copy_(0.3 * torch.randn((OUT_FEATURES, IN_FEATURES), generator=generator))
        dense.linear.bias.copy_(0.1 * torch.randn((OUT_FEATURES,), generator=generator))
    model = SentenceTransformer(modules=[transformer, pooling, dense, models.Normalize()], device="cpu")

    if TARGET.exists():
        shutil.rmtree(TARGET)
    # No model card (README.md): prose with the versions, not needed by a chunk set.
    model.save(str(TARGET), create_model_card=False, safe_serialization=True)
    written = tree(TARGET)

    modules = json.loads((TARGET / "modules.json").read_text(encoding="utf-8"))
    if modules != EXPECTED_MODULES:
        sys.exit(f"sentence-transformers {sentence_transformers.__version__} wrote another modules.json "
                 f"(not the classic layout; use 5.3.0): {modules}")
    for name, expected in EXPECTED_CONFIGS.items():
        got = json.loads((TARGET / name).read_text(encoding="utf-8"))
        if got != expected:
            sys.exit(f"{name}: {got}, expected {expected}")
    dense_tensors = load_numpy(TARGET / "2_Dense" / "model.safetensors")
    shapes = {k: list(v.shape) for k, v in dense_tensors.items()}
    if shapes != {"linear.weight": [OUT_FEATURES, IN_FEATURES], "linear.bias": [OUT_FEATURES]}:
        sys.exit(f"2_Dense/model.safetensors holds {shapes}")
    if any(p.suffix == ".bin" for p in TARGET.rglob("*")):
        sys.exit(f"{TARGET}: a pytorch_model.bin was written")

    # The transformer files: exact copies of mpnet-tiny's, once the saved ones are seen to be equivalent.
    replaced = []
    saved_tokenizer = Tokenizer.from_file(str(TARGET / "tokenizer.json"))
    source_tokenizer = Tokenizer.from_file(str(SOURCE / "tokenizer.json"))
    for text in texts:
        pair = isinstance(text, tuple)
        saved = saved_tokenizer.encode(*text) if pair else saved_tokenizer.encode(text)
        source = source_tokenizer.encode(*text) if pair else source_tokenizer.encode(text)
        # Only the ids: RobertaProcessing gives a pair's second text type id 0 where the file's
        # template gives 1, and MPNet has no token-type embeddings.
        if saved.ids != source.ids:
            sys.exit(f"the saved tokenizer.json encodes {text!r} differently: {saved.ids} != {source.ids}")
    saved_weights, source_weights = load_numpy(TARGET / "model.safetensors"), load_numpy(SOURCE / "model.safetensors")
    if saved_weights.keys() != source_weights.keys() or not all(
            np.array_equal(saved_weights[k], source_weights[k]) for k in source_weights):
        sys.exit("the saved model.safetensors holds other tensors than mpnet-tiny's")
    for name in TRANSFORMER_FILES:
        if (TARGET / name).read_bytes() != (SOURCE / name).read_bytes():
            replaced.append(name)
        shutil.copyfile(SOURCE / name, TARGET / name)
    normalize_dir = TARGET / "3_Normalize"
    if normalize_dir.is_dir() and not any(normalize_dir.iterdir()):
        normalize_dir.rmdir()
    leftovers = sorted(p.relative_to(TARGET).as_posix() for p in TARGET.rglob("*") if p.is_dir() and not any(p.iterdir()))
    if leftovers:
        sys.exit(f"{TARGET}: empty folders {leftovers}")
    return {"written_by_save": written, "replaced_by_copies": replaced, "final": tree(TARGET)}


def forward_by_module(model, sentences: list) -> tuple[dict, list]:
    """Tokenizes the sentences as one padded batch and runs the modules one at a time, keeping the
    sentence embedding after each."""
    features = model.tokenize(sentences)
    inputs = {k: v.clone() for k, v in features.items()}
    outputs = []
    with torch.no_grad():
        for module in model:
            features = module(features)
            if "sentence_embedding" in features:
                outputs.append(features["sentence_embedding"].detach().clone())
    return inputs, outputs


def golden(sentences: list) -> dict:
    """Loads TARGET with SentenceTransformer and writes Fixtures/golden/mpnet-tiny-dense.safetensors.
    Returns a summary for the report."""
    model = SentenceTransformer(str(TARGET), device="cpu").eval()
    kinds = [type(m).__name__ for m in model]
    if kinds != ["Transformer", "Pooling", "Dense", "Normalize"]:
        sys.exit(f"{TARGET} loads as {kinds}")
    embedding = model.encode(sentences, convert_to_numpy=True, normalize_embeddings=False,
                             batch_size=len(sentences), show_progress_bar=False)
    inputs, outputs = forward_by_module(model, sentences)
    pooled, dense, final = (t.numpy() for t in outputs)
    summary = {"modules": kinds, "encode_vs_forward_max_diff": float(np.abs(embedding - final).max())}

    # By hand, from the saved Dense weights: normalize(tanh(pooled @ W.T + b)).
    weights = load_numpy(TARGET / "2_Dense" / "model.safetensors")
    pre = pooled.astype(np.float64) @ weights["linear.weight"].astype(np.float64).T + weights["linear.bias"]
    activated = np.tanh(pre)
    by_hand = activated / np.maximum(np.linalg.norm(activated, axis=1, keepdims=True), 1e-12)
    summary["dense_by_hand_max_diff"] = float(np.abs(activated - dense).max())
    summary["embedding_by_hand_max_diff"] = float(np.abs(by_hand - embedding).max())
    summary["tanh_input_abs_max"] = float(np.abs(pre).max())
    summary["tanh_input_abs_mean"] = float(np.abs(pre).mean())
    summary["tanh_output_share_above_0.99"] = float((np.abs(activated) > 0.99).mean())
    if summary["embedding_by_hand_max_diff"] > 1e-5 or summary["dense_by_hand_max_diff"] > 1e-5:
        sys.exit(f"the embeddings disagree with the computation by hand: {summary}")

    # The pooled embedding against the transformer's own golden (the same sentences, one padded batch).
    reference = load_numpy(GOLDEN / "mpnet-tiny.safetensors")
    input_ids = inputs["input_ids"].to(torch.int64)
    attention_mask = inputs["attention_mask"].to(torch.int64)
    if not np.array_equal(input_ids.numpy(), reference["input_ids"]) or not np.array_equal(
            attention_mask.numpy(), reference["attention_mask"]):
        sys.exit("sentence-transformers tokenizes the sentences otherwise than golden/mpnet-tiny.safetensors")
    mask = reference["attention_mask"][:, :, None].astype(np.float64)
    mean = (reference["last_hidden_state"] * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
    summary["pooled_vs_mpnet_tiny_golden_max_diff"] = float(np.abs(mean - pooled).max())

    tensors = {
        "input_ids": input_ids.contiguous(),
        "attention_mask": attention_mask.contiguous(),
        "pooled": torch.from_numpy(pooled).contiguous(),
        "dense": torch.from_numpy(dense).contiguous(),
        "sentence_embedding": torch.from_numpy(np.ascontiguousarray(embedding, dtype=np.float32)),
    }
    metadata = {
        "model": NAME,
        "sentence_transformers": sentence_transformers.__version__,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "dense_seed": str(DENSE_SEED),
    }
    save_golden(tensors, GOLDEN / f"{NAME}.safetensors", metadata)
    summary["tensors"] = {k: [str(v.dtype), list(v.shape)] for k, v in tensors.items()}
    return summary


def main() -> None:
    sentences, pairs = start_golden_run()
    if not all((SOURCE / n).exists() for n in TRANSFORMER_FILES):
        sys.exit("Fixtures/mpnet-tiny is missing: run make_encoder_fixtures.py first")

    built = build(list(sentences) + pairs)
    print("files written by SentenceTransformer.save (size, sha256 prefix):")
    print("\n".join("  " + line for line in built["written_by_save"]))
    print("replaced by mpnet-tiny's copies:", built["replaced_by_copies"])
    print(f"{TARGET.relative_to(FIXTURES.parent)}:")
    print("\n".join("  " + line for line in built["final"]))
    print(NAME, json.dumps(golden(sentences)))
    print(f"sentence-transformers fixtures written with sentence-transformers {sentence_transformers.__version__}, "
          f"torch {torch.__version__}, transformers {transformers.__version__}")


if __name__ == "__main__":
    main()
