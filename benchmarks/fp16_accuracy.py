#!/usr/bin/env python3
"""How far float16 chunks move a model's outputs from float32 ones: USAGE.md's figure for choosing
`chunker --dtype float16`.

Usage: fp16_accuracy.py CHUNKER INFER MODEL_DIR [TEXTS_FILE]

Chunks MODEL_DIR twice (float32, float16) into temporary directories, runs `infer --chunks-dir`
on each with mean pooling and normalization (as sentence-transformers models do) over the first 40
non-empty lines of TEXTS_FILE (default Fixtures/tokenizer/corpus.txt), and prints, as JSON, the
largest 1 - cosine between the two sentence embeddings of a text and the largest absolute
difference between their last hidden states.
"""

import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    chunker, infer, model = sys.argv[1:4]
    corpus = Path(sys.argv[4]) if len(sys.argv) == 5 else ROOT / "Fixtures" / "tokenizer" / "corpus.txt"
    texts = [line.strip() for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()][:40]
    outputs = []
    with tempfile.TemporaryDirectory() as work:
        for dtype in ("float32", "float16"):
            chunks = Path(work) / dtype
            subprocess.run([chunker, model, "--output-dir", str(chunks), "--dtype", dtype], check=True,
                           capture_output=True)
            result = subprocess.run([infer, "--chunks-dir", str(chunks), "--pooling", "mean", "--normalize", "--json",
                                     "--hidden", "--"] + texts, check=True, capture_output=True, text=True)
            outputs.append(json.loads(result.stdout)["results"])
    worst_cosine, worst_hidden = 0.0, 0.0
    for wide, narrow in zip(*outputs):
        a, b = wide["embedding"], narrow["embedding"]
        cosine = sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
        worst_cosine = max(worst_cosine, 1 - cosine)
        worst_hidden = max(worst_hidden, max(abs(x - y) for row_a, row_b in zip(wide["last_hidden_state"],
                                                                                   narrow["last_hidden_state"])
                                             for x, y in zip(row_a, row_b)))
    print(json.dumps({"texts": len(texts), "max_1_minus_cosine": worst_cosine, "max_abs_hidden_diff": worst_hidden}))


if __name__ == "__main__":
    main()
