"""Writes the chunker's test checkpoints into Fixtures/checkpoints/ (see the README.md written
there). Deterministic: the same torch / transformers / safetensors versions give the same bytes.

    .venv/bin/python Fixtures/generators/make_chunker_fixtures.py [--out DIR]

Nothing here is ever unpickled with a permissive loader: the malicious files are built from pickle
opcodes, and the check at the end loads them only with torch.load(weights_only=True), which
refuses them before running anything.
"""

import argparse
import hashlib
import json
import os
import pickle
import pickletools
import platform
import shutil
import struct
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import safetensors
import safetensors.torch
import torch
import transformers
from transformers import BertConfig, BertModel

ROOT = Path(__file__).resolve().parents[2]  # this file is Fixtures/generators/NAME.py
SEED = 20261130
MARKER_PREFIX = "/tmp/streaming-weights-pwned-"

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = [
    ".", ",", "!", "?", "'", "-", "(", ")", ":", ";",
    "the", "a", "an", "of", "to", "and", "in", "is", "it", "that",
    "was", "for", "on", "are", "with", "as", "be", "this", "at", "by",
    "hello", "world", "model", "layer", "weight", "chunk", "stream", "token", "text", "word",
    "cat", "dog", "sat", "mat", "run", "fast", "slow", "big", "small", "new",
    "good", "bad", "day", "night", "light", "dark", "red", "blue", "green", "white",
    "one", "two", "three", "four", "five", "##s", "##ed", "##ing", "##er", "##ly",
    "##est", "##ion", "##al", "##y", "##e", "##a", "##o", "##i", "##n", "##t",
    "un", "re", "pre", "sub", "over", "under", "##able", "##ness", "##ment", "##ful",
    "sun", "moon", "tree", "house",
    "[unused-edge-values]",
]
VOCAB = SPECIAL_TOKENS + WORDS
assert len(VOCAB) == 100 and len(set(VOCAB)) == 100 and VOCAB[99] == "[unused-edge-values]"

# Row 99 of word_embeddings (the token "[unused-edge-values]") holds float32 values at the edges of
# the float16 and bfloat16 conversions, so `chunker --dtype` is checked against PyTorch's rounding.
EDGE_VALUES = [
    1.0 + 2.0**-11,         # float16 tie between 1 and 1+2^-10: rounds to even, 1.0
    1.0 + 3 * 2.0**-11,     # float16 tie: rounds up to 1+2^-9
    1.0 + 2.0**-8,          # bfloat16 tie: rounds to even, 1.0
    1.0 + 3 * 2.0**-8,      # bfloat16 tie: rounds up
    65504.0,                # float16 max
    65519.99,               # rounds down to 65504 in float16
    65520.0,                # float16 overflow: +inf
    -70000.0,               # float16 overflow: -inf
    1e-7,                   # float16 subnormal
    -3e-8,                  # float16: just over half the smallest subnormal 2^-24, rounds to -2^-24
    -2e-8,                  # float16: under half the smallest subnormal, rounds to -0.0
    1e-40,                  # float32 subnormal: 0 in float16, a subnormal in bfloat16
    -0.0,
    3.4e38,                 # beyond bfloat16's max 3.3895e38 (and float16's): +inf in both
    0.1, -0.1, 1.0 / 3.0,
]


def log(message):
    print(f"==> {message}", file=sys.stderr, flush=True)


def tiny_config(architecture):
    config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, type_vocab_size=2)
    config.architectures = [architecture]
    return config


def tiny_model():
    """BertModel (with pooler) with every parameter redrawn from SEED, as Fixtures/bert-tiny is."""
    torch.manual_seed(SEED)
    model = BertModel(tiny_config("BertModel"), add_pooling_layer=True).eval()
    generator = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for name, parameter in model.named_parameters():  # registration order: deterministic
            noise = torch.randn(parameter.shape, generator=generator, dtype=torch.float32)
            if "LayerNorm.weight" in name:
                parameter.copy_(1.0 + 0.1 * noise)
            elif name.endswith(".bias"):
                parameter.copy_(0.05 * noise)
            elif name.startswith("embeddings."):
                parameter.copy_(0.5 * noise)
            else:
                parameter.copy_(0.08 * noise)
        word = model.embeddings.word_embeddings.weight
        word[99, :len(EDGE_VALUES)] = torch.tensor(EDGE_VALUES, dtype=torch.float32)
    return model


def bert_state_dict(model):
    """model.state_dict() plus the int64 `embeddings.position_ids` buffer [1, 64] that transformers
    before 4.31 kept in every BERT checkpoint (transformers 5 no longer saves it): real
    pytorch_model.bin files carry it, so the reader meets a LongStorage and the chunker's skip is
    exercised."""
    source = model.state_dict()
    state = OrderedDict()
    for name, tensor in source.items():
        state[name] = tensor.detach().clone().contiguous()
        if name == "embeddings.token_type_embeddings.weight":
            state["embeddings.position_ids"] = torch.arange(64, dtype=torch.int64).unsqueeze(0)
    assert "embeddings.position_ids" in state
    # state_dict() carries the modules' versions in `_metadata`; torch.save pickles it (a BUILD
    # with a dict of dicts after the tensors), so a reader meets it in every real checkpoint.
    state._metadata = source._metadata
    return state


def write_tokenizer_and_config(directory, config):
    directory.mkdir(parents=True, exist_ok=True)
    config.to_json_file(directory / "config.json")
    (directory / "vocab.txt").write_text("".join(f"{token}\n" for token in VOCAB), encoding="utf-8")


def write_pt(out, model, state):
    base = out / "tiny-bert-pt"
    for sub in ("bin", "safetensors"):
        write_tokenizer_and_config(base / sub, model.config)
    torch.save(state, base / "bin" / "pytorch_model.bin")
    safetensors.torch.save_file(state, base / "safetensors" / "model.safetensors", metadata={"format": "pt"})


def write_prefixed(out, model, state):
    """BertForMaskedLM-style names, LayerNorm gamma/beta as in TF-converted checkpoints, a cls head."""
    directory = out / "tiny-bert-prefixed"
    write_tokenizer_and_config(directory, tiny_config("BertForMaskedLM"))
    renamed = OrderedDict()
    for name, tensor in state.items():
        name = name.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        renamed[f"bert.{name}"] = tensor
    generator = torch.Generator().manual_seed(SEED + 1)
    hidden, vocab = 32, 100
    renamed["cls.predictions.bias"] = 0.05 * torch.randn(vocab, generator=generator)
    renamed["cls.predictions.transform.dense.weight"] = 0.08 * torch.randn(hidden, hidden, generator=generator)
    renamed["cls.predictions.transform.dense.bias"] = 0.05 * torch.randn(hidden, generator=generator)
    renamed["cls.predictions.transform.LayerNorm.gamma"] = 1 + 0.1 * torch.randn(hidden, generator=generator)
    renamed["cls.predictions.transform.LayerNorm.beta"] = 0.05 * torch.randn(hidden, generator=generator)
    # Tied to the word embeddings in the model; safetensors stores a copy.
    renamed["cls.predictions.decoder.weight"] = state["embeddings.word_embeddings.weight"].clone()
    safetensors.torch.save_file(renamed, directory / "model.safetensors", metadata={"format": "pt"})


def write_sharded(out, model):
    directory = out / "tiny-bert-sharded"
    scratch = out / ".sharded-scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    # transformers' own writer, so the index and shard names are exactly what it produces.
    model.save_pretrained(scratch, max_shard_size="50KB")
    produced = sorted(p.name for p in scratch.iterdir())
    expected = ["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                "model.safetensors.index.json"]
    if produced != expected:
        sys.exit(f"save_pretrained wrote {produced}, expected {expected}: adjust max_shard_size")
    write_tokenizer_and_config(directory, model.config)
    for name in expected[1:]:
        shutil.copyfile(scratch / name, directory / name)
    shutil.rmtree(scratch)


# --- malicious pickles ------------------------------------------------------------------------

def op_unicode(text):
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def op_global(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def legit_tensor_entry():
    """`'embeddings.LayerNorm.bias': _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', 4), 0,
    (4,), (1,), False, OrderedDict())`, opcode for opcode as torch.save writes it."""
    return (op_unicode("embeddings.LayerNorm.bias")
            + op_global("torch._utils", "_rebuild_tensor_v2")
            + b"(" + b"(" + op_unicode("storage") + op_global("torch", "FloatStorage") + op_unicode("0")
            + op_unicode("cpu") + b"K\x04" + b"t" + b"Q"
            + b"K\x00" + b"K\x04" + b"\x85" + b"K\x01" + b"\x85" + b"\x89"
            + op_global("collections", "OrderedDict") + b")" + b"R" + b"t" + b"R")


def evil_state_pickle(protocol, evil_global, argument):
    """An OrderedDict state dict: one real tensor, then a key whose value is evil_global(argument).
    evil_global is (module, name) written with GLOBAL for protocol 2, STACK_GLOBAL for protocol 4."""
    module, name = evil_global
    if protocol == 2:
        call = op_global(module, name)
    else:
        call = op_unicode(module) + op_unicode(name) + b"\x93"  # STACK_GLOBAL
    return (b"\x80" + bytes([protocol])
            + op_global("collections", "OrderedDict") + b")" + b"R"
            + b"(" + legit_tensor_entry()
            + op_unicode("embeddings.LayerNorm.weight") + call + op_unicode(argument) + b"\x85" + b"R"
            + b"u" + b".")


def write_torch_zip(path, data_pkl, storages):
    """The zip layout torch.save writes (PyTorch's own writer): data.pkl, .format_version,
    .storage_alignment, byteorder, data/<key>..., version, .data/serialization_id."""
    writer = torch._C.PyTorchFileWriter(str(path), True, 64)
    writer.write_record("data.pkl", data_pkl, len(data_pkl))
    writer.write_record(".format_version", "1", 1)
    writer.write_record(".storage_alignment", "64", 2)
    writer.write_record("byteorder", "little", 6)
    for key, data in storages:
        writer.write_record(f"data/{key}", data, len(data))
    writer.write_end_of_file()


def write_malicious(out):
    directory = out / "malicious"
    directory.mkdir(parents=True, exist_ok=True)
    storage = struct.pack("<4f", 0.5, -0.25, 0.125, 1.0)
    os_marker = f"{MARKER_PREFIX}os-system"
    eval_marker = f"{MARKER_PREFIX}builtins-eval"
    plain_marker = f"{MARKER_PREFIX}plain-pickle"
    write_torch_zip(directory / "os_system.bin",
                    evil_state_pickle(2, ("os", "system"), f"touch {os_marker}"), [("0", storage)])
    write_torch_zip(directory / "builtins_eval.bin",
                    evil_state_pickle(4, ("builtins", "eval"),
                                      f"__import__('os').system('touch {eval_marker}')"), [("0", storage)])

    # What pickle.dumps makes of a class whose __reduce__ returns (os.system, (...,)): on Linux
    # os.system is posix.system, so the global is written `posix system`. Built by hand (the same
    # bytes as pickle.dumps(..., protocol=2)) so that nothing evil is ever imported here.
    plain = (b"\x80\x02" + op_global("posix", "system") + b"q\x00"
             + op_unicode(f"touch {plain_marker}") + b"q\x01" + b"\x85" + b"q\x02" + b"R" + b"q\x03" + b".")
    (directory / "plain_pickle_os_system.pkl").write_bytes(plain)

    class Payload:  # pickled, never unpickled: pickle.dumps only records the callable's name
        def __reduce__(self):
            return (os.system, (f"touch {plain_marker}",))

    assert pickle.dumps(Payload(), protocol=2) == plain
    return {"os_system.bin": os_marker, "builtins_eval.bin": eval_marker,
            "plain_pickle_os_system.pkl": plain_marker}


# --- checks -----------------------------------------------------------------------------------

def check(out, state, markers):
    log("checking the fixtures load back")
    for sub in ("bin", "safetensors"):
        directory = out / "tiny-bert-pt" / sub
        name = "pytorch_model.bin" if sub == "bin" else "model.safetensors"
        path = directory / name
        loaded = (torch.load(path, weights_only=True, map_location="cpu") if sub == "bin"
                  else safetensors.torch.load_file(path))
        assert list(loaded) == list(state) or sub == "safetensors", list(loaded)
        assert set(loaded) == set(state)
        for key, tensor in state.items():
            assert loaded[key].dtype == tensor.dtype and torch.equal(loaded[key], tensor), key
        model = BertModel.from_pretrained(directory).eval()  # transformers reads the folder
        with torch.no_grad():
            model(torch.tensor([[2, 40, 41, 3]]))

    prefixed = safetensors.torch.load_file(out / "tiny-bert-prefixed" / "model.safetensors")
    for key, tensor in state.items():
        name = "bert." + key.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        assert torch.equal(prefixed[name], tensor), name

    directory = out / "tiny-bert-sharded"
    index = json.loads((directory / "model.safetensors.index.json").read_text())
    merged = {}
    for shard in sorted(set(index["weight_map"].values())):
        merged.update(safetensors.torch.load_file(directory / shard))
    assert set(merged) == set(state) - {"embeddings.position_ids"}, sorted(set(merged) ^ set(state))
    for key, tensor in merged.items():
        assert torch.equal(tensor, state[key]), key
    BertModel.from_pretrained(directory)

    for name, marker in markers.items():
        if os.path.exists(marker):
            sys.exit(f"{marker} exists before the check: remove it first")
        path = out / "malicious" / name
        if name.endswith(".bin"):
            names = zipfile.ZipFile(path).namelist()
            assert names[0].endswith("/data.pkl"), names
            try:
                torch.load(path, weights_only=True, map_location="cpu")
            except pickle.UnpicklingError as error:
                lines = str(error).strip().splitlines()
                reason = next((line for line in lines if "Unsupported" in line or "GLOBAL" in line), lines[0])
                log(f"torch.load(weights_only=True) refuses {name}: {reason.strip()[:160]}")
            else:
                sys.exit(f"torch.load(weights_only=True) accepted {name}")
        if os.path.exists(marker):
            sys.exit(f"{marker} was created: the payload ran")


def describe_pickle(data):
    globals_, opcodes = [], set()
    stack_strings = []
    for opcode, argument, _ in pickletools.genops(data):
        opcodes.add(opcode.name)
        if opcode.name == "GLOBAL":
            globals_.append(argument.replace(" ", "."))
        elif opcode.name == "STACK_GLOBAL":
            globals_.append(".".join(stack_strings[-2:]))
        if isinstance(argument, str):
            stack_strings.append(argument)
    return sorted(set(globals_)), sorted(opcodes)


def describe_zip(path):
    """Facts about torch.save's zip layout, checked on the file (so the README stays true)."""
    raw = path.read_bytes()
    archive = zipfile.ZipFile(path)
    infos = archive.infolist()
    prefix = infos[0].filename.split("/")[0]
    for info in infos:
        offset = info.header_offset
        (signature, _, flags, method, mtime, mdate, crc, csize, usize, name_length,
         extra_length) = struct.unpack("<IHHHHHIIIHH", raw[offset:offset + 30])
        extra = raw[offset + 30 + name_length: offset + 30 + name_length + extra_length]
        data_offset = offset + 30 + name_length + extra_length
        assert signature == 0x04034B50 and flags == 0x0808 and method == 0 and mtime == 0 and mdate == 0
        assert crc == 0 and csize == 0 and usize == 0, "sizes live in the central directory"
        assert info.extra == b"" and info.compress_type == 0 and info.file_size == info.compress_size
        assert extra[:2] == b"FB" and struct.unpack("<H", extra[2:4])[0] == extra_length - 4
        assert data_offset % 64 == 0, info.filename
        descriptor = raw[data_offset + info.file_size: data_offset + info.file_size + 16]
        assert struct.unpack("<IIII", descriptor) == (0x08074B50, info.CRC, info.file_size, info.file_size)
    assert raw.find(b"PK\x06\x06") > 0 and raw.find(b"PK\x06\x07") > 0, "zip64 end records"
    names = [info.filename[len(prefix) + 1:] for info in infos]
    records = {name: archive.read(f"{prefix}/{name}") for name in
               (".format_version", ".storage_alignment", "byteorder", "version", ".data/serialization_id")}
    return prefix, names, records


def write_readme(out, markers):
    def sha(path):
        return hashlib.sha256(path.read_bytes()).hexdigest()

    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != "README.md")
    listing = "\n".join(f"| `{p.relative_to(out)}` | {p.stat().st_size} | `{sha(p)[:16]}` |" for p in files)
    bin_globals, bin_opcodes = describe_pickle(
        zipfile.ZipFile(out / "tiny-bert-pt/bin/pytorch_model.bin").read("pytorch_model/data.pkl"))
    prefix, names, records = describe_zip(out / "tiny-bert-pt/bin/pytorch_model.bin")
    storages = [n for n in names if n.startswith("data/")]
    text = f"""# Chunker test checkpoints

Written by `Fixtures/generators/make_chunker_fixtures.py` (seed {SEED}) with PyTorch {torch.__version__},
transformers {transformers.__version__}, safetensors {safetensors.__version__}, Python
{platform.python_version()}. Running the script again gives the same bytes. Do not edit by hand.

All the models are one tiny BERT: 2 layers, hidden 32, 2 heads, intermediate 64, vocabulary 100,
64 positions, 2 token types, pooler included. Every parameter is redrawn from the seed: weights
N(0, 0.08), embeddings N(0, 0.5), biases N(0, 0.05), layer-norm scales 1 + N(0, 0.1). Row 99 of
`word_embeddings.weight` (token `[unused-edge-values]`) starts with float32 values at the edges of
the float16/bfloat16 conversions (ties to even, 65504, overflow to infinity, subnormals, -0.0), so
`chunker --dtype` is compared with PyTorch's `.to(dtype)`; do not feed token 99 to a float16 model.

The state dict is `BertModel.state_dict()` (39 float32 tensors, names without a `bert.` prefix)
plus the int64 buffer `embeddings.position_ids` `[1, 64]` = 0..63, which transformers before 4.31
saved in every BERT checkpoint and transformers 5 no longer does: the chunker must skip it.

| path | what it is for |
|---|---|
| `tiny-bert-pt/bin/pytorch_model.bin` | `torch.save(state_dict, path)`: PyTorch's zip format, read through the restricted unpickler |
| `tiny-bert-pt/safetensors/model.safetensors` | the same 40 tensors, `safetensors.torch.save_file` (metadata `format: pt`); chunking both folders must give identical chunks |
| `tiny-bert-pt/*/config.json`, `vocab.txt` | `config.to_json_file`; a 100-token WordPiece vocabulary with `[PAD] [UNK] [CLS] [SEP] [MASK]` at ids 0-4 |
| `tiny-bert-prefixed/model.safetensors` | the same weights with a `bert.` prefix, LayerNorm `gamma`/`beta` (TF-converted style), and a `cls.predictions.*` head (6 tensors; `decoder.weight` a copy of the word embeddings): the chunker drops `bert.`, maps gamma/beta to weight/bias, skips `cls.*` and `embeddings.position_ids` |
| `tiny-bert-sharded/` | `model.save_pretrained(dir, max_shard_size="50KB")`: `model-00001-of-00002.safetensors`, `model-00002-of-00002.safetensors`, `model.safetensors.index.json` (`{{"metadata": {{"total_parameters": P, "total_size": N}}, "weight_map": {{name: shard}}}}`), 39 tensors (no position_ids) |
| `malicious/os_system.bin` | PyTorch zip (written with PyTorch's own zip writer, same entries as `torch.save`) whose `data.pkl` (protocol 2) holds one real tensor, then `GLOBAL 'os system'` + `REDUCE` on `"touch {markers['os_system.bin']}"` |
| `malicious/builtins_eval.bin` | the same with protocol 4 and `STACK_GLOBAL` `builtins`.`eval` on `"__import__('os').system('touch {markers['builtins_eval.bin']}')"` |
| `malicious/plain_pickle_os_system.pkl` | a raw (not zip) protocol-2 pickle, what `pickle.dumps` writes for `os.system("touch {markers['plain_pickle_os_system.pkl']}")`: `GLOBAL 'posix system'` (os.system is posix.system on Linux) |

A reader must refuse the three malicious files without running anything; a test can check that the
marker files (`{MARKER_PREFIX}*`) were not created. `torch.load(weights_only=True)` refuses them.

`tiny-bert-pt/bin/pytorch_model.bin`'s `data.pkl` uses the globals {", ".join(f"`{g}`" for g in bin_globals)}
and the opcodes {", ".join(bin_opcodes)}: an `OrderedDict()` (GLOBAL + EMPTY_TUPLE + REDUCE), one
SETITEMS of name -> `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
backward_hooks=OrderedDict())`, the storage a BINPERSID of `('storage', torch.FloatStorage, '<key>',
'cpu', <numel>)`, then BUILD with `{{'_metadata': OrderedDict(module name -> {{'version': 1}})}}`.

Its zip layout (checked by the script): entries `{prefix}/` + {", ".join(f"`{n}`" for n in names if not n.startswith("data/"))}
and `data/0` ... `data/{len(storages) - 1}` (in the order {", ".join(names[:5])}, ...), the prefix being
the file's name without extension (`archive` when saving to a buffer); all stored (method 0),
date and time 0, flags 0x0808 (data descriptor, UTF-8 names): the local headers carry CRC and sizes
0, the central directory the real ones, and a 16-byte `PK\\x07\\x08` descriptor follows each entry's
data. Each local header's extra field is a `FB` padding block so the data starts at a multiple of
64 bytes; the central directory entries have no extra field. Zip64 end records precede the end of
central directory. Records: `.format_version` = {records[".format_version"]!r}, `.storage_alignment` =
{records[".storage_alignment"]!r}, `byteorder` = {records["byteorder"]!r}, `version` = {records["version"]!r},
`.data/serialization_id` = a number derived from the content (no clock, no randomness).

| file | bytes | sha256 (first 16) |
|---|---|---|
{listing}
"""
    (out / "README.md").write_text(text, encoding="utf-8")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "Fixtures" / "checkpoints")
    args = parser.parse_args()
    out = args.out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)

    model = tiny_model()
    state = bert_state_dict(model)
    log(f"tiny BERT: {len(state)} tensors, {sum(t.numel() for t in state.values())} values")
    write_pt(out, model, state)
    write_prefixed(out, model, state)
    write_sharded(out, model)
    markers = write_malicious(out)
    check(out, state, markers)
    write_readme(out, markers)
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    log(f"wrote {out} ({total} bytes)")
    if total > 2 * 1024 * 1024:
        sys.exit("the fixtures are over 2 MB")


if __name__ == "__main__":
    main()
