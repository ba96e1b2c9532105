"""Writes a BERT-large-shaped model with random weights (for the streaming memory benchmark).

    Fixtures/generators/make_synthetic_bert.py OUTPUT_DIR [--layers 24] [--hidden 1024]

24 layers of hidden size 1024 (16 heads, intermediate 4096), BERT's 30,522-token vocabulary
(vocab.txt and tokenizer files copied from Fixtures/bert-tiny), float32 weights drawn from
N(0, 0.02) with a fixed seed, layer norms at 1 and 0: about 1.3 GB of model.safetensors, with the
tensor names of transformers' BertModel. Its outputs mean nothing; its shapes are BERT-large's.
"""
import argparse
import json
import shutil
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

ROOT = Path(__file__).resolve().parents[2]  # this file is Fixtures/generators/NAME.py


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("output")
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--hidden", type=int, default=1024)
    args = parser.parse_args()
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    hidden, inner, vocab, heads = args.hidden, 4 * args.hidden, 30522, args.hidden // 64
    rng = np.random.default_rng(20261129)

    def normal(*shape):
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float32)

    tensors = {
        "embeddings.word_embeddings.weight": normal(vocab, hidden),
        "embeddings.position_embeddings.weight": normal(512, hidden),
        "embeddings.token_type_embeddings.weight": normal(2, hidden),
        "embeddings.LayerNorm.weight": np.ones(hidden, np.float32),
        "embeddings.LayerNorm.bias": np.zeros(hidden, np.float32),
        "pooler.dense.weight": normal(hidden, hidden),
        "pooler.dense.bias": np.zeros(hidden, np.float32),
    }
    for layer in range(args.layers):
        prefix = f"encoder.layer.{layer}."
        for name in ("query", "key", "value"):
            tensors[prefix + f"attention.self.{name}.weight"] = normal(hidden, hidden)
            tensors[prefix + f"attention.self.{name}.bias"] = np.zeros(hidden, np.float32)
        tensors[prefix + "attention.output.dense.weight"] = normal(hidden, hidden)
        tensors[prefix + "attention.output.dense.bias"] = np.zeros(hidden, np.float32)
        tensors[prefix + "intermediate.dense.weight"] = normal(inner, hidden)
        tensors[prefix + "intermediate.dense.bias"] = np.zeros(inner, np.float32)
        tensors[prefix + "output.dense.weight"] = normal(hidden, inner)
        tensors[prefix + "output.dense.bias"] = np.zeros(hidden, np.float32)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            tensors[prefix + norm + ".weight"] = np.ones(hidden, np.float32)
            tensors[prefix + norm + ".bias"] = np.zeros(hidden, np.float32)
    save_file(tensors, str(out / "model.safetensors"))
    config = json.loads((ROOT / "Fixtures/bert-tiny/config.json").read_text())
    config.update(hidden_size=hidden, intermediate_size=inner, num_attention_heads=heads,
                  num_hidden_layers=args.layers)
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    for name in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(ROOT / "Fixtures/bert-tiny" / name, out / name)


if __name__ == "__main__":
    main()
