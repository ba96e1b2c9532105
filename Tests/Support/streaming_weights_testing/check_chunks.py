"""Verifies a chunk set written by `chunker` against the model it was made from, with Python's
safetensors and PyTorch (docs/FORMAT.md is the format).

    python -m streaming_weights_testing.check_chunks CHUNK_DIR SOURCE_MODEL_DIR
        [--dtype float32|float16|bfloat16]

SOURCE_MODEL_DIR holds model.safetensors, a sharded model.safetensors.index.json,
pytorch_model.bin (read with torch.load(weights_only=True)) or pytorch_model.bin.index.json, with
config.json and the tokenizer files. --dtype is the dtype the chunks should hold; without it, the
source's floating dtype.

Checks: the manifest's keys and types (format_version 1 or 2, model_type, num_layers, dtype,
compression, chunks, files, total_size_mb); every chunk it lists exists with the size, SHA-256
and size_mb it states; a `.safetensors.gz` chunk is one gzip member that restores a safetensors
file; each safetensors file parses, is byte for byte what Python's `safetensors.torch.save` writes
for the same tensors, and matches the manifest's tensor dtypes and shapes; every source tensor
(after dropping `bert.`, renaming gamma/beta to weight/bias and skipping `cls.*` and
`embeddings.position_ids`) is in its chunk under its relative name, bit for bit equal to the
source (float32) or to PyTorch's `.to(dtype)` of it (round to nearest even); no chunk holds
anything else; config.json and the tokenizer files are copied unchanged and listed with their size
and SHA-256.

Prints one line per problem and exits 1, or a one-line summary and exits 0.
"""

import argparse
import hashlib
import json
import math
import re
import sys
import zlib
from pathlib import Path

import safetensors.torch
import torch

MANIFEST = "chunk_info.json"
TOKENIZER_FILES = ["vocab.txt", "tokenizer_config.json", "tokenizer.json", "special_tokens_map.json"]
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
SAFETENSORS_DTYPE = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
                     torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
                     torch.uint8: "U8", torch.bool: "BOOL", torch.uint16: "U16", torch.uint32: "U32",
                     torch.uint64: "U64"}
BITS_VIEW = {8: torch.int64, 4: torch.int32, 2: torch.int16, 1: torch.uint8}
LAYER_RE = re.compile(r"^encoder\.layer\.(\d+)\.(.+)$")


class Problems:
    def __init__(self):
        self.lines = []

    def __call__(self, message):
        self.lines.append(message)
        print(message, flush=True)


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- the source -----------------------------------------------------------------------------

def load_source(directory):
    """(tensors by original name, description)."""
    single = directory / "model.safetensors"
    index = directory / "model.safetensors.index.json"
    pt = directory / "pytorch_model.bin"
    pt_index = directory / "pytorch_model.bin.index.json"
    if single.is_file():
        return safetensors.torch.load_file(single), single.name
    if index.is_file() or pt_index.is_file():
        path = index if index.is_file() else pt_index
        weight_map = json.loads(path.read_text())["weight_map"]
        tensors = {}
        for shard in sorted(set(weight_map.values())):
            if path is index:
                tensors.update(safetensors.torch.load_file(directory / shard))
            else:
                tensors.update(torch.load(directory / shard, weights_only=True, map_location="cpu"))
        missing = sorted(set(weight_map) - set(tensors))
        if missing:
            raise SystemExit(f"{path}: weight_map names tensors its shards lack: {', '.join(missing[:5])}")
        return tensors, f"{path.name} ({len(set(weight_map.values()))} shards)"
    if pt.is_file():
        state = torch.load(pt, weights_only=True, map_location="cpu")
        return dict(state), pt.name
    raise SystemExit(f"{directory}: no model.safetensors, model.safetensors.index.json, pytorch_model.bin "
                     "or pytorch_model.bin.index.json")


def normalise(name):
    """The name the chunker uses, or None for a tensor it leaves out (docs/FORMAT.md)."""
    for prefix in ("bert.", "roberta.", "distilbert.", "mpnet."):
        if name.startswith(prefix):
            name = name[len(prefix):]
    if name.startswith("transformer.layer."):
        name = "encoder." + name[len("transformer."):]
    if name.startswith("classifier."):
        name = "head." + name[len("classifier."):]
    if name.startswith("pre_classifier."):
        name = "head." + name
    if name.startswith("encoder.relative_attention_bias."):
        name = "shared." + name[len("encoder."):]
    if name.startswith(("cls.", "lm_head.")) or name in ("embeddings.position_ids", "embeddings.token_type_ids"):
        return None
    if name.endswith(".gamma"):
        name = name[: -len("gamma")] + "weight"
    elif name.endswith(".beta"):
        name = name[: -len("beta")] + "bias"
    return name


def place(name):
    """(chunk name, name inside the chunk), or None when the name belongs to no chunk."""
    if name.startswith("embeddings."):
        return "embeddings", name[len("embeddings."):]
    match = LAYER_RE.match(name)
    if match:
        return f"layer_{int(match.group(1))}", match.group(2)
    for chunk in ("pooler", "shared", "head"):
        if name.startswith(chunk + "."):
            return chunk, name[len(chunk) + 1:]
    return None


def expected_chunks(source, problem):
    """{chunk: {relative name: (source name, tensor)}}."""
    chunks = {}
    for original, tensor in source.items():
        name = normalise(original)
        if name is None:
            continue
        where = place(name)
        if where is None:
            problem(f"source tensor {original} belongs to no chunk (not embeddings.*, encoder.layer.N.*, pooler.*, shared.*, head.*)")
            continue
        chunk, relative = where
        if relative in chunks.setdefault(chunk, {}):
            problem(f"source tensors {chunks[chunk][relative][0]} and {original} both become {chunk}/{relative}")
        chunks[chunk][relative] = (original, tensor)
    return chunks


# --- the chunk set --------------------------------------------------------------------------

def check_type(manifest, key, kind, problem, where="chunk_info.json"):
    value = manifest.get(key) if isinstance(manifest, dict) else None
    if key not in manifest:
        problem(f"{where}: '{key}' is missing")
        return None
    ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if not ok:
        problem(f"{where}: '{key}' is {type(value).__name__}, not {getattr(kind, '__name__', kind)}")
        return None
    return value


def safe_name(name):
    return isinstance(name, str) and name and "/" not in name and "\\" not in name and name not in (".", "..")


def safe_relative_name(name):
    """A `files` key: a plain name, or plain names joined by "/" (sentence-transformers' 1_Pooling/config.json)."""
    return isinstance(name, str) and all(safe_name(part) for part in name.split("/"))


def read_chunk_bytes(path, compression, problem):
    data = path.read_bytes()
    if compression != "gzip":
        return data
    if data[:2] != b"\x1f\x8b":
        problem(f"{path.name}: not a gzip stream")
        return None
    try:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        plain = inflater.decompress(data) + inflater.flush()
        if not inflater.eof:
            problem(f"{path.name}: the gzip stream is truncated")
            return None
        if inflater.unused_data:  # zlib has checked the member's CRC-32 and length
            problem(f"{path.name}: {len(inflater.unused_data)} bytes follow the first gzip member")
        return plain
    except zlib.error as error:
        problem(f"{path.name}: gzip: {error}")
        return None


def parse_safetensors(label, data, problem):
    """(tensors, metadata) or None; checks the layout rules of docs/FORMAT.md that Python's reader
    does not."""
    if len(data) < 8:
        problem(f"{label}: {len(data)} bytes, shorter than the 8-byte header length")
        return None
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8 or n > 100_000_000:
        problem(f"{label}: header length {n} exceeds the file")
        return None
    if n % 8 != 0:
        problem(f"{label}: header length {n} is not a multiple of 8")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as error:
        problem(f"{label}: header is not valid JSON: {error}")
        return None
    if not isinstance(header, dict):
        problem(f"{label}: header is not a JSON object")
        return None
    metadata = header.pop("__metadata__", None)
    try:
        spans = sorted(((int(v["data_offsets"][0]), int(v["data_offsets"][1])), k) for k, v in header.items())
    except (KeyError, TypeError, ValueError, IndexError):
        problem(f"{label}: a header entry lacks valid data_offsets")
        return None
    position = 0
    for (begin, end), key in spans:
        if begin != position:
            problem(f"{label}: tensor {key} begins at {begin}, expected {position} (gap or overlap)")
        position = end
    if position != len(data) - 8 - n:
        problem(f"{label}: tensors end at {position}, the data section has {len(data) - 8 - n} bytes")
    try:
        tensors = safetensors.torch.load(data)
    except Exception as error:  # safetensors raises its own error types
        problem(f"{label}: safetensors cannot read it: {error}")
        return None
    rewritten = safetensors.torch.save(tensors, metadata=metadata)
    if rewritten != data:
        problem(f"{label}: bytes differ from what safetensors.torch.save writes for the same tensors")
    return tensors, header


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError(f"duplicate keys {sorted({k for k in keys if keys.count(k) > 1})}")
    return dict(pairs)


def bits_equal(a, b):
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.numel() == 0:
        return True
    view = BITS_VIEW[a.element_size()]
    return torch.equal(a.contiguous().view(view), b.contiguous().view(view))


def describe_difference(got, want):
    if got.dtype != want.dtype or got.shape != want.shape:
        return f"{SAFETENSORS_DTYPE.get(got.dtype)} {list(got.shape)}, expected " \
               f"{SAFETENSORS_DTYPE.get(want.dtype)} {list(want.shape)}"
    view = BITS_VIEW[got.element_size()]
    differ = (got.contiguous().view(view) != want.contiguous().view(view)).flatten()
    index = int(differ.nonzero()[0])
    return (f"{int(differ.sum())} of {got.numel()} values differ; first at flat index {index}: "
            f"{got.flatten()[index].item()!r}, expected {want.flatten()[index].item()!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("chunk_dir", type=Path)
    parser.add_argument("source_dir", type=Path)
    parser.add_argument("--dtype", choices=sorted(DTYPES), help="the dtype the chunks should hold")
    args = parser.parse_args()
    problem = Problems()

    source, source_label = load_source(args.source_dir)
    floating = sorted({t.dtype for t in source.values() if t.is_floating_point()}, key=str)
    target_name = args.dtype
    if target_name is None:
        names = {v: k for k, v in DTYPES.items()}
        if len(floating) != 1 or floating[0] not in names:
            raise SystemExit(f"the source holds {floating}: pass --dtype")
        target_name = names[floating[0]]
    target = DTYPES[target_name]
    expected = expected_chunks(source, problem)
    config_path = args.source_dir / "config.json"
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}

    manifest_path = args.chunk_dir / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"), object_pairs_hook=_no_duplicates)
    except FileNotFoundError:
        problem(f"{manifest_path}: missing")
        return finish(problem, args)
    except (ValueError, UnicodeDecodeError) as error:
        problem(f"{manifest_path}: not valid JSON: {error}")
        return finish(problem, args)
    if not isinstance(manifest, dict):
        problem(f"{manifest_path}: not a JSON object")
        return finish(problem, args)

    version = check_type(manifest, "format_version", int, problem)
    if version is not None and version not in (1, 2):
        problem(f"chunk_info.json: format_version is {version}, not 1 or 2")
    check_type(manifest, "model_name", str, problem)
    model_type = check_type(manifest, "model_type", str, problem)
    if model_type is not None and "model_type" in config and model_type != config["model_type"]:
        problem(f"chunk_info.json: model_type is {model_type!r}, config.json says {config['model_type']!r}")
    num_layers = check_type(manifest, "num_layers", int, problem)
    layer_chunks = sorted(int(c.split("_")[1]) for c in expected if c.startswith("layer_"))
    if layer_chunks != list(range(len(layer_chunks))):
        problem(f"source: encoder layers {layer_chunks} are not 0..{len(layer_chunks) - 1}")
    if num_layers is not None:
        if num_layers != len(layer_chunks):
            problem(f"chunk_info.json: num_layers is {num_layers}, the source has {len(layer_chunks)} layers")
        if "num_hidden_layers" in config and num_layers != config["num_hidden_layers"]:
            problem(f"chunk_info.json: num_layers is {num_layers}, config.json says {config['num_hidden_layers']}")
    dtype = check_type(manifest, "dtype", str, problem)
    if dtype is not None and dtype != target_name:
        problem(f"chunk_info.json: dtype is {dtype!r}, expected {target_name!r}")
    compression = check_type(manifest, "compression", str, problem)
    if compression is not None and compression not in ("none", "gzip"):
        problem(f"chunk_info.json: compression is {compression!r}, not 'none' or 'gzip'")
    chunks = check_type(manifest, "chunks", dict, problem) or {}
    files = check_type(manifest, "files", dict, problem) or {}
    total = check_type(manifest, "total_size_mb", (int, float), problem)

    missing = sorted(set(expected) - set(chunks))
    extra = sorted(set(chunks) - set(expected))
    for name in missing:
        problem(f"chunk_info.json: no chunk '{name}', which the source's tensors need")
    for name in extra:
        problem(f"chunk_info.json: chunk '{name}' has no source tensors")

    suffix = ".safetensors.gz" if compression == "gzip" else ".safetensors"
    size_mb_sum = 0.0
    tensor_count = 0
    stored_bytes = 0
    for name in sorted(chunks, key=lambda c: (c != "embeddings", c == "pooler", len(c), c)):
        entry = chunks[name]
        where = f"chunk_info.json: chunks.{name}"
        if not isinstance(entry, dict):
            problem(f"{where} is not an object")
            continue
        file = check_type(entry, "file", str, problem, where)
        size = check_type(entry, "size", int, problem, where)
        digest = check_type(entry, "sha256", str, problem, where)
        size_mb = check_type(entry, "size_mb", (int, float), problem, where)
        listed = check_type(entry, "tensors", dict, problem, where) or {}
        if size_mb is not None:
            size_mb_sum += size_mb
            if size is not None and not math.isclose(size_mb, size / 1048576, rel_tol=1e-9, abs_tol=1e-12):
                problem(f"{where}.size_mb is {size_mb}, size / 1048576 is {size / 1048576}")
        if digest is not None and not re.fullmatch(r"[0-9a-f]{64}", digest):
            problem(f"{where}.sha256 is not 64 lower-case hex digits")
        if file is None:
            continue
        if not safe_name(file):
            problem(f"{where}.file {file!r} is not a plain file name")
            continue
        if compression in ("none", "gzip") and file != name + suffix:
            problem(f"{where}.file is {file!r}, expected {name + suffix!r}")
        path = args.chunk_dir / file
        if not path.is_file():
            problem(f"{file}: listed in the manifest, missing from {args.chunk_dir}")
            continue
        actual_size = path.stat().st_size
        stored_bytes += actual_size
        if size is not None and actual_size != size:
            problem(f"{file}: {actual_size} bytes, the manifest says {size}")
        actual_digest = sha256_file(path)
        if digest is not None and actual_digest != digest:
            problem(f"{file}: sha256 {actual_digest}, the manifest says {digest}")
        data = read_chunk_bytes(path, compression, problem)
        if data is None:
            continue
        parsed = parse_safetensors(file, data, problem)
        if parsed is None:
            continue
        tensors, header = parsed
        tensor_count += len(tensors)
        for key in sorted(set(listed) | set(header)):
            info = listed.get(key)
            if key not in header:
                problem(f"{where}.tensors lists {key}, which {file} lacks")
            elif info is None:
                problem(f"{where}.tensors lacks {key}, which {file} holds")
            elif not isinstance(info, dict) or info.get("dtype") != header[key]["dtype"] \
                    or info.get("shape") != header[key]["shape"]:
                problem(f"{where}.tensors.{key} is {info}, the file has dtype {header[key]['dtype']} "
                        f"shape {header[key]['shape']}")
        wanted = expected.get(name, {})
        wrong_dtype = []
        for relative in sorted(set(wanted) | set(tensors)):
            if relative not in tensors:
                problem(f"{file}: no tensor {relative} (source {wanted[relative][0]})")
                continue
            if relative not in wanted:
                problem(f"{file}: tensor {relative} is not in the source")
                continue
            original, want = wanted[relative]
            if want.is_floating_point():
                want = want.to(target)
            got = tensors[relative]
            if got.dtype != want.dtype and got.shape == want.shape:
                wrong_dtype.append((relative, got.dtype, want.dtype))
            elif not bits_equal(got, want):
                problem(f"{file}: {relative} (source {original}): {describe_difference(got, want)}")
        for got_dtype, want_dtype in sorted({(g, w) for _, g, w in wrong_dtype}, key=str):
            names = [r for r, g, w in wrong_dtype if (g, w) == (got_dtype, want_dtype)]
            problem(f"{file}: {len(names)} tensor(s) are {SAFETENSORS_DTYPE.get(got_dtype)}, expected "
                    f"{SAFETENSORS_DTYPE.get(want_dtype)}: {', '.join(names[:3])}{', ...' if len(names) > 3 else ''}")

    if total is not None and not math.isclose(total, size_mb_sum, rel_tol=1e-9, abs_tol=1e-9):
        problem(f"chunk_info.json: total_size_mb is {total}, the chunks' size_mb add up to {size_mb_sum}")

    for name in ["config.json"] + TOKENIZER_FILES:
        source_file = args.source_dir / name
        if source_file.is_file() and name not in files:
            problem(f"chunk_info.json: files lacks {name}, which the source has")
    for name in sorted(files):
        entry = files[name]
        where = f"chunk_info.json: files.{name}"
        if not isinstance(entry, dict):
            problem(f"{where} is not an object")
            continue
        size = check_type(entry, "size", int, problem, where)
        digest = check_type(entry, "sha256", str, problem, where)
        if not safe_relative_name(name):
            problem(f"{where}: {name!r} is not a plain file name or a relative path of plain names")
            continue
        path = args.chunk_dir / name
        if not path.is_file():
            problem(f"{name}: listed in the manifest, missing from {args.chunk_dir}")
            continue
        data = path.read_bytes()
        if size is not None and len(data) != size:
            problem(f"{name}: {len(data)} bytes, the manifest says {size}")
        if digest is not None and hashlib.sha256(data).hexdigest() != digest:
            problem(f"{name}: sha256 {hashlib.sha256(data).hexdigest()}, the manifest says {digest}")
        source_file = args.source_dir / name
        if source_file.is_file() and source_file.read_bytes() != data:
            problem(f"{name}: differs from the source's copy")

    summary = (f"ok: {args.chunk_dir}: {len(chunks)} chunks ({num_layers} layers), {tensor_count} tensors, "
               f"{target_name}, compression {compression}, {stored_bytes} bytes, {len(files)} other files; "
               f"equal to {args.source_dir}/{source_label}")
    return finish(problem, args, summary)


def finish(problem, args, summary=None):
    if problem.lines:
        print(f"{len(problem.lines)} problem(s) in {args.chunk_dir}", file=sys.stderr)
        sys.exit(1)
    print(summary)
    sys.exit(0)


if __name__ == "__main__":
    main()
