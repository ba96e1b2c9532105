#!/usr/bin/env python3
"""Writes a chunk directory the way the Python tool's chunker did, for the compatibility tests.

Usage: python -m streaming_weights_testing.make_legacy_chunks MODEL_DIR OUT_DIR [--compress]
    [--with-tokenizer]

MODEL_DIR holds a BertModel checkpoint (model.safetensors with keys `embeddings.*`,
`encoder.layer.N.*`, `pooler.*`, or the same under `bert.`) and config.json. Like the Python
tool's ModelChunker, this writes each component's state dict with torch.save (keys relative to
the component, float32 tensors halved with --compress) as embeddings.pt, layer_N.pt and
pooler.pt, config.json, and chunk_info.json with only model_name, model_type, num_layers, chunks
({name: {file, size_mb}}) and total_size_mb: no sizes in bytes, no hashes. The Python tool saved
no tokenizer files (its client loaded the tokenizer from the hub); --with-tokenizer copies the
model's beside the chunks, as a team moving to our client would.
"""

import argparse
import json
import os
import shutil
import sys

import torch
from safetensors.torch import load_file


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("out")
    parser.add_argument("--compress", action="store_true")
    parser.add_argument("--with-tokenizer", action="store_true")
    args = parser.parse_args()
    state = load_file(os.path.join(args.model, "model.safetensors"))
    state = {k[len("bert."):] if k.startswith("bert.") else k: v for k, v in state.items()}
    config = json.load(open(os.path.join(args.model, "config.json")))
    layers = config["num_hidden_layers"]
    os.makedirs(args.out, exist_ok=True)

    def save(prefix: str, name: str) -> dict:
        part = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if args.compress:
            part = {k: v.half() if v.dtype == torch.float32 else v for k, v in part.items()}
        path = os.path.join(args.out, f"{name}.pt")
        torch.save(part, path)
        return {"file": f"{name}.pt", "size_mb": os.path.getsize(path) / (1024 * 1024)}

    chunks = {"embeddings": save("embeddings.", "embeddings")}
    for i in range(layers):
        chunks[f"layer_{i}"] = save(f"encoder.layer.{i}.", f"layer_{i}")
    if any(k.startswith("pooler.") for k in state):
        chunks["pooler"] = save("pooler.", "pooler")
    shutil.copy(os.path.join(args.model, "config.json"), os.path.join(args.out, "config.json"))
    info = {"model_name": os.path.basename(os.path.normpath(args.model)), "model_type": config.get("model_type", "bert"),
            "num_layers": layers, "chunks": chunks, "total_size_mb": sum(c["size_mb"] for c in chunks.values())}
    with open(os.path.join(args.out, "chunk_info.json"), "w") as f:
        json.dump(info, f, indent=2)
    if args.with_tokenizer:
        for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            if os.path.exists(os.path.join(args.model, name)):
                shutil.copy(os.path.join(args.model, name), os.path.join(args.out, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
