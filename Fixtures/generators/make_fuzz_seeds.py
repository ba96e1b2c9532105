"""Writes the seed corpora of the fuzz harnesses (fuzz/seeds/NAME/), small valid inputs of each
format, from the fixtures and from the formats' own examples. Run by hand when a format changes;
the seeds are committed, beside the inputs that once crashed a harness (crash-*, replayed by every
fuzz run and by the tests). Usage: Fixtures/generators/make_fuzz_seeds.py [CHUNK_INFO_JSON] (a real
manifest to add, e.g. from `chunker Fixtures/bert-tiny --output-dir DIR`)."""
import base64
import gzip
import json
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # this file is Fixtures/generators/NAME.py
SEEDS = ROOT / "fuzz" / "seeds"


def frame(opcode, payload, fin=True, mask=None):
    first = (0x80 if fin else 0) | opcode
    length = len(payload)
    if length < 126:
        header = bytes([first, (0x80 if mask else 0) | length])
    elif length < 65536:
        header = bytes([first, (0x80 if mask else 0) | 126]) + struct.pack(">H", length)
    else:
        header = bytes([first, (0x80 if mask else 0) | 127]) + struct.pack(">Q", length)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        header += mask
    return header + payload


def response(header, payload=b""):
    text = json.dumps(header).encode()
    return struct.pack("<I", len(text)) + text + payload


def write(name, files):
    """Replaces the seed-NN files of a harness; inputs that once crashed it (crash-*) stay."""
    directory = SEEDS / name
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("seed-*"):
        old.unlink()
    for index, data in enumerate(files):
        (directory / f"seed-{index:02d}").write_bytes(data)


def main():
    key = b"\x37\xfa\x21\x3d"
    write("frame", [
        # The leading byte picks where the harness splits the input.
        b"\x05" + frame(0x1, b"Hello", mask=key),
        b"\x00" + frame(0x1, b"Hello"),
        b"\x03" + frame(0x2, bytes(range(256)) * 2, mask=key),
        b"\x07" + frame(0x2, b"x" * 70000),
        b"\x02" + frame(0x1, b"Hel", fin=False, mask=key) + frame(0x9, b"ping", mask=key) + frame(0x0, b"lo", mask=key),
        b"\x01" + frame(0x8, struct.pack(">H", 1000) + b"bye", mask=key),
        b"\x04" + frame(0xA, b"", mask=key) + frame(0x8, b""),
    ])
    write("handshake", [
        b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Protocol: streaming-weights.v1\r\nAuthorization: Bearer token\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: streaming-weights.v1\r\n\r\n",
        b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 12\r\n\r\nno token set",
    ])
    write("request", [
        b'{"id": 1, "op": "manifest"}',
        b'{"id": 8, "op": "get", "name": "layer_0"}',
        b'{"id": 9, "op": "get", "name": "embeddings", "offset": 1024, "length": 4096}',
        b'{"id": 10, "op": "stats"}',
        b'{"id": 11, "op": "get", "name": "..\\/config.json\\u0000"}',
    ])
    sha = "ab" * 32
    write("response", [
        response({"id": 8, "name": "layer_0", "size": 4, "sha256": sha, "encoding": "identity", "offset": 0,
                  "length": 4}, b"\x00\x01\x02\x03"),
        response({"id": 9, "name": "embeddings", "size": 10, "sha256": sha, "encoding": "gzip", "offset": 2,
                  "length": 3}, b"abc"),
        response({"id": 3, "error": {"code": "not_found", "message": "no object named x"}}),
    ])
    write("safetensors", [path.read_bytes() for path in sorted((ROOT / "Fixtures" / "safetensors").glob("*"))])
    write("pickle", [path.read_bytes() for path in sorted((ROOT / "Fixtures" / "checkpoints" / "malicious").glob("*"))])
    manifest = {
        "model_name": "bert-tiny", "total_size_mb": 0.01, "compression": "none",
        "config": {"hidden_size": 128, "num_hidden_layers": 2},
        "chunks": {"layer_0": {"file": "layer_0.safetensors", "size": 12, "sha256": sha,
                               "tensors": {"attention.self.query.weight": {"dtype": "F32", "shape": [128, 128]}}}},
        "files": {"config.json": {"size": 3, "sha256": sha}},
    }
    real = [Path(sys.argv[1]).read_bytes()] if len(sys.argv) > 1 else []
    # A version-3 manifest whose layers' weights are pre-packed (`weight_layout`, docs/FORMAT.md).
    panels = {**manifest, "format_version": 3, "weight_layout": "panels32", "model_type": "bert", "num_layers": 1,
              "dtype": "float32",
              "chunks": {"layer_0": {**manifest["chunks"]["layer_0"],
                                     "tensors": {"attention.self.query.weight": {"dtype": "F32",
                                                                                 "shape": [4, 128, 32]}}}}}
    write("manifest", [json.dumps(manifest).encode(), json.dumps({"chunks": {}}).encode()] + real
          + [json.dumps(panels).encode()])
    write("gzip", [gzip.compress(b"streaming weights " * 100), gzip.compress(b""),
                   gzip.compress(b"a") + gzip.compress(b"b")])
    write("s3xml", [
        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The key does not exist'
        b'</Message><Key>layer_0</Key></Error>',
        b'<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>a/layer_0.safetensors</Key>'
        b'<Size>12</Size></Contents><NextContinuationToken>abc</NextContinuationToken></ListBucketResult>',
        b'<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>id-1</UploadId>'
        b'</InitiateMultipartUploadResult>',
    ])
    write("tokenizer", [
        "Hello, world! The quick brown fox.".encode(),
        "Héllo wörld 你好 naïve café\u0301".encode(),
        b"[CLS] [MASK] tokens\x00and a second sentence",
        ("unaffable " * 300).encode(),
        b"\xff\xfe broken utf8 \xc3",
        b"[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n##lo\n",
    ])
    # The Unigram fixture's real SentencePiece charsmap (nmt_nfkc), whole and cut short.
    unigram = json.loads((ROOT / "Fixtures" / "tokenizer" / "unigram" / "tokenizer.json").read_text())
    charsmap = next(n["precompiled_charsmap"] for n in unigram["normalizer"]["normalizers"] if n["type"] == "Precompiled")
    blob = base64.b64decode(charsmap)
    write("charsmap", [blob, blob[:4], blob[:1024], "ＡＢＣ ﬁ e\u0301 👨‍👩‍👧".encode()])
    # tokenizer.json regular expressions (GPT-2's, Llama 3's, constructs, patterns that backtrack
    # exponentially), a zero byte, then a text.
    text = "Hello, it's 12345 ＡＢＣ\r\n  the naïve café 日本 e\u0301 👨‍👩‍👧 x  "
    write("regex", [f"{pattern}\0{text}".encode() for pattern in [
        r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
        r"(?i)[a-z\d_]{2,4}?\b|\A.|.\z|^x|x$|\x{1F600}|\u00e9|[\]\-]",
        r"(a+)+b", r"(x*)*y|(?=\w)\W", r"(?:e|é)+?$",
    ]] + [b"(a|aa)+\0" + b"a" * 200])


if __name__ == "__main__":
    main()
