"""Checks that Python's safetensors opens a file and finds exactly the tensors and metadata a
JSON spec lists. Used by the Swift tests to prove files written by StreamingWeights interoperate.

usage: python -m streaming_weights_testing.check_safetensors FILE SPEC.json
SPEC: {"metadata": {...}, "tensors": {name: {"dtype": "F32", "shape": [...], "values": [...]}}}
Exits 0 when everything matches, else prints each difference and exits 1."""

import json
import sys

import numpy as np
from safetensors import deserialize, safe_open

NUMPY = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?",
}
def decode(dtype, data):
    if dtype == "BF16":
        return (np.frombuffer(data, dtype="<u2").astype("<u4") << 16).view("<f4")
    return np.frombuffer(data, dtype=NUMPY[dtype])


def main():
    path, spec_path = sys.argv[1], sys.argv[2]
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    problems = []
    with safe_open(path, framework="numpy") as opened:
        if (opened.metadata() or {}) != spec["metadata"]:
            problems.append(f"metadata {opened.metadata()} != {spec['metadata']}")
        if sorted(opened.keys()) != sorted(spec["tensors"]):
            problems.append(f"tensor names {sorted(opened.keys())} != {sorted(spec['tensors'])}")
    with open(path, "rb") as f:
        tensors = dict(deserialize(f.read()))
    for name, expected in spec["tensors"].items():
        found = tensors.get(name)
        if found is None:
            continue
        if found["dtype"] != expected["dtype"]:
            problems.append(f"{name}: dtype {found['dtype']} != {expected['dtype']}")
            continue
        if list(found["shape"]) != expected["shape"]:
            problems.append(f"{name}: shape {found['shape']} != {expected['shape']}")
        values = decode(expected["dtype"], bytes(found["data"]))
        wanted = np.array(expected["values"], dtype=values.dtype)
        if not np.array_equal(values, wanted):
            problems.append(f"{name}: values {values.tolist()} != {expected['values']}")
    for problem in problems:
        print(problem)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
