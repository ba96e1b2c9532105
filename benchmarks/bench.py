"""Runs the benchmarks of scripts/bench: ours (streaming-weights-bench) and the references
(benchmarks/bench_reference.py) side by side, prints ratios, and writes docs/PERFORMANCE.md and
docs/latency.svg."""

import argparse
import json
import operator
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
REFERENCE = [PYTHON, str(ROOT / "benchmarks" / "bench_reference.py")]
MODELS = {"bert-tiny": ROOT / "Fixtures" / "bert-tiny", "all-MiniLM-L6-v2": ROOT / "models" / "all-MiniLM-L6-v2"}
CONFIGS = [(8, 1), (128, 1), (512, 1), (128, 8)]
THREADS = [1, 2]
SHAPES = "128x384x384,128x384x1536,128x1536x384,8x128x128,128x128x512"
BERT_SHAPES = "128x384x384,128x384x1536,128x1536x384"
# OpenBLAS forced to the instruction set of each of our kernel sets (DYNAMIC_ARCH core types).
CORETYPES = {"avx512": "SkylakeX", "avx2": "Haswell"}
MACHINES = ROOT / "docs" / "machines.json"


def testing(module):
    """The command that runs a module of Tests/Support/streaming_weights_testing (scripts/bootstrap
    installs that package into .venv, whose Python runs this)."""
    return [PYTHON, "-m", f"streaming_weights_testing.{module}"]


def log(message):
    print(f"==> {message}", file=sys.stderr, flush=True)


def run_json(command):
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if result.returncode != 0:
        sys.exit(f"{' '.join(map(str, command))} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# Ours and the references alternate this many times in the forward section (see forward()).
FORWARD_ROUNDS = 3


def forward(ours):
    """BERT's forward latency, ours against PyTorch and ONNX Runtime, every config and thread count. Ours and the
    references alternate FORWARD_ROUNDS times per model, as architectures() does: a change in the machine's load
    between two measurements moves one round's ratio, not the result. Each time is the median of the rounds'
    medians, each ratio the median of the rounds' ratios."""
    rows = []
    for name, directory in MODELS.items():
        rounds = []
        for number in range(1, FORWARD_ROUNDS + 1):
            log(f"forward: {name}, round {number} of {FORWARD_ROUNDS}: ours, then PyTorch and ONNX Runtime")
            mine = {}
            for seq, batch in CONFIGS:
                for threads in THREADS:
                    result = run_json([ours, "forward", "--model", directory, "--seq", str(seq), "--batch",
                                       str(batch), "--threads", str(threads)])
                    mine[(seq, batch, threads)] = result["ours"]["median_ms"]
            reference = run_json(REFERENCE + ["--what", "forward", "--model", str(directory), "--configs",
                                              ",".join(f"{s}x{b}" for s, b in CONFIGS), "--threads",
                                              ",".join(map(str, THREADS))])
            rounds.append({(entry["seq"], entry["batch"], entry["threads"]):
                           (mine[(entry["seq"], entry["batch"], entry["threads"])], entry["pytorch"]["median_ms"],
                            entry["onnxruntime"]["median_ms"]) for entry in reference["results"]})
        for key in rounds[0]:
            ours_ms, pytorch_ms, onnxruntime_ms = zip(*(measured[key] for measured in rounds))
            rows.append({"model": name, "seq": key[0], "batch": key[1], "threads": key[2], "rounds": len(rounds),
                         "ours": statistics.median(ours_ms), "pytorch": statistics.median(pytorch_ms),
                         "onnxruntime": statistics.median(onnxruntime_ms),
                         "ours_over_onnxruntime": statistics.median(map(operator.truediv, ours_ms, onnxruntime_ms)),
                         "ours_over_pytorch": statistics.median(map(operator.truediv, ours_ms, pytorch_ms))})
    return rows


def over_onnxruntime(row):
    """A forward row's ours / ORT: the median of its rounds' ratios (a run saved before the rounds: one ratio)."""
    return row.get("ours_over_onnxruntime", row["ours"] / row["onnxruntime"])


def over_pytorch(row):
    """A forward row's ours / PyTorch, as over_onnxruntime."""
    return row.get("ours_over_pytorch", row["ours"] / row["pytorch"])


# The encoder families besides BERT, each as a random-weight model of all-MiniLM-L6-v2's shape
# (hidden 384, 6 layers, 12 heads, intermediate 1536, vocabulary 30522, 512 usable positions), made
# once into .build-bench/models/<type>-minilm-shape/ by transformers' own classes. RoBERTa-family and
# MPNet position ids start after the pad id 1, hence 514 positions; DistilBERT's layer norms have a
# fixed eps of 1e-12 (no config field).
MINILM_SHAPE = {"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12, "intermediate_size": 1536,
                "vocab_size": 30522}
ARCHITECTURES = {
    "xlm-roberta": {**MINILM_SHAPE, "max_position_embeddings": 514, "pad_token_id": 1, "layer_norm_eps": 1e-5},
    "distilbert": {"dim": 384, "n_layers": 6, "n_heads": 12, "hidden_dim": 1536, "vocab_size": 30522,
                   "max_position_embeddings": 512},
    "mpnet": {**MINILM_SHAPE, "max_position_embeddings": 514, "pad_token_id": 1, "layer_norm_eps": 1e-5},
}
ARCHITECTURE_SEED = 20261207
ARCHITECTURE_MODELS = ROOT / ".build-bench" / "models"
MAKE_ARCHITECTURE = """
import json, sys, torch, transformers
from transformers import AutoConfig, AutoModel
transformers.logging.disable_progress_bar()
model_type, fields, seed, target = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
torch.manual_seed(seed)
config = AutoConfig.for_model(model_type, **fields)
AutoModel.from_config(config, dtype=torch.float32).eval().save_pretrained(target)
"""


def architecture_model(model_type):
    """.build-bench/models/<type>-minilm-shape/ (config.json + model.safetensors), made unless there with the fields
    of ARCHITECTURES: in a child process (torch stays out of this one), into a temporary directory renamed when
    complete."""
    directory = ARCHITECTURE_MODELS / f"{model_type}-minilm-shape"
    if (directory / "config.json").exists() and (directory / "model.safetensors").exists():
        config = json.loads((directory / "config.json").read_text())
        if all(config.get(key) == value for key, value in ARCHITECTURES[model_type].items()):
            return directory
    log(f"architectures: making a random-weight {model_type} of MiniLM's shape in {directory}")
    ARCHITECTURE_MODELS.mkdir(parents=True, exist_ok=True)
    partial = ARCHITECTURE_MODELS / f".{directory.name}.{os.getpid()}.tmp"
    shutil.rmtree(partial, ignore_errors=True)
    subprocess.run([PYTHON, "-c", MAKE_ARCHITECTURE, model_type, json.dumps(ARCHITECTURES[model_type]),
                    str(ARCHITECTURE_SEED), str(partial)], check=True, cwd=ROOT)
    if not (partial / "model.safetensors").exists():
        sys.exit(f"save_pretrained wrote no model.safetensors for {model_type}: {sorted(os.listdir(partial))}")
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(partial, directory)
    return directory


# Ours and the references alternate this many times per architecture (see architectures()).
ARCHITECTURE_ROUNDS = 3


def architectures(ours):
    """Forward latency of the other encoder families (random weights, MiniLM's shape), seq 128, batch 1, 1 and 2
    threads: ours against PyTorch and ONNX Runtime, as the forward section does for BERT. Ours and the references
    alternate ARCHITECTURE_ROUNDS times per model, so that a change in the machine's load between two measurements
    moves one round's ratio, not the result: each ratio is the median of the rounds' ratios, each time the median
    of the rounds' medians."""
    rows = []
    for model_type in ARCHITECTURES:
        directory = architecture_model(model_type)
        rounds = []
        for number in range(1, ARCHITECTURE_ROUNDS + 1):
            log(f"architectures: {model_type}, round {number} of {ARCHITECTURE_ROUNDS}: ours, then PyTorch and "
                "ONNX Runtime")
            mine = {threads: run_json([ours, "forward", "--model", directory, "--seq", "128", "--batch", "1",
                                       "--threads", str(threads), "--seconds", "1"])["ours"]["median_ms"]
                    for threads in THREADS}
            reference = run_json(REFERENCE + ["--what", "forward", "--model", str(directory), "--configs", "128x1",
                                              "--threads", ",".join(map(str, THREADS))])
            entries = reference["results"] if "results" in reference else [reference]
            rounds.append({entry["threads"]: (mine[entry["threads"]], entry) for entry in entries})
        for threads in THREADS:
            samples = [measured[threads] for measured in rounds]
            entry = samples[0][1]
            def median_of(value):
                return statistics.median(value(ours_ms, reference) for ours_ms, reference in samples)
            rows.append({"model_type": model_type, "model": directory.name, "seq": entry["seq"],
                         "batch": entry["batch"], "threads": threads, "rounds": len(samples),
                         "ours": median_of(lambda ours_ms, _: ours_ms),
                         "pytorch": median_of(lambda _, reference: reference["pytorch"]["median_ms"]),
                         "onnxruntime": median_of(lambda _, reference: reference["onnxruntime"]["median_ms"]),
                         "ours_over_onnxruntime": median_of(
                             lambda ours_ms, reference: ours_ms / reference["onnxruntime"]["median_ms"]),
                         "ours_over_pytorch": median_of(
                             lambda ours_ms, reference: ours_ms / reference["pytorch"]["median_ms"]),
                         "ort_max_abs_diff_vs_pytorch": entry["onnxruntime"].get("max_abs_diff_vs_pytorch")})
    return rows


def matmul(ours):
    rows = []
    for threads in THREADS:
        log(f"matmul: {threads} thread(s)")
        mine = run_json([ours, "matmul", "--shapes", SHAPES, "--threads", str(threads), "--stored"])["shapes"]
        numpy = run_json(REFERENCE + ["--what", "matmul", "--shapes", SHAPES, "--threads", str(threads)])
        theirs = numpy["shapes"]
        kernel = ", ".join(f"{b.get('internal_api')} {b.get('architecture')}" for b in numpy.get("blas", []))
        for shape in SHAPES.split(","):
            reference = theirs[shape]
            rows.append({"shape": shape, "threads": threads, "ours": mine[shape]["gflops_median"],
                         "ours_stored": mine[shape]["stored_gflops_median"], "numpy": reference["gflops_median"],
                         "kernel": kernel})
    return rows


# The tokenizer families measured (issue 19): BERT runs BertTokenizer, the others the
# tokenizer.json pipeline; the GPT-2 and XLM-R vocabularies come from scripts/fetch-tokenizers.
TOKENIZER_FAMILIES = {
    "BERT WordPiece (all-MiniLM-L6-v2)": MODELS["all-MiniLM-L6-v2"],
    "XLM-R Unigram (250,002 pieces, Precompiled charsmap)": ROOT / "models" / "tokenizers" / "xlm-r",
    "GPT-2 byte-level BPE (50,257 ids)": ROOT / "models" / "tokenizers" / "gpt2",
    "MPNet-shaped WordPiece pipeline (fixture)": ROOT / "Fixtures" / "tokenizer" / "wordpiece-mpnet",
}


def tokenize(ours):
    log("tokenizer throughput")
    corpus = ROOT / "Fixtures" / "tokenizer" / "corpus.txt"
    families = []
    for name, directory in TOKENIZER_FAMILIES.items():
        mine = run_json([ours, "tokenize", "--vocab-dir", directory, "--corpus", corpus])
        theirs = run_json(REFERENCE + ["--what", "tokenize", "--vocab-dir", str(directory), "--corpus", str(corpus)])
        families.append({"name": name, "ours": mine, "theirs": theirs})
    # The first family under the keys earlier runs used.
    return {"ours": families[0]["ours"], "theirs": families[0]["theirs"], "families": families}


def accuracy(ours):
    log("accuracy against transformers")
    return {name: run_json([ours, "accuracy", "--model", directory, "--golden",
                            ROOT / "Fixtures" / "golden" / f"{name}.safetensors"])
            for name, directory in MODELS.items()}


def timed(command):
    """Runs `command`; returns (seconds, peak RSS in MiB) from the kernel's accounting."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(map(str, command))} failed: {process.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss / 1024


def chunking(chunker):
    """Chunking all-MiniLM-L6-v2 to a local directory against `cp` of the same files."""
    log("chunking all-MiniLM-L6-v2 against cp")
    source = MODELS["all-MiniLM-L6-v2"]
    files = [source / name for name in ("model.safetensors", "config.json", "vocab.txt", "tokenizer.json",
                                        "tokenizer_config.json", "special_tokens_map.json")]
    ours, copies, peaks = [], [], []
    with tempfile.TemporaryDirectory() as work:
        for attempt in range(5):
            target = Path(work) / f"chunks-{attempt}"
            elapsed, peak = timed([chunker, str(source), "--output-dir", str(target)])
            ours.append(elapsed)
            peaks.append(peak)
            manifest = json.loads((target / "chunk_info.json").read_text())
            shutil.rmtree(target)
            copy = Path(work) / f"copy-{attempt}"
            copy.mkdir()
            elapsed, _ = timed(["cp"] + [str(f) for f in files] + [str(copy)])
            copies.append(elapsed)
            shutil.rmtree(copy)
    largest = max(chunk["size"] for chunk in manifest["chunks"].values()) / 1048576
    # The fixed cost of a run: starting, parsing the command line, exiting.
    starts = [timed([chunker, "--version"])[0] for _ in range(10)]
    return {"ours_s": statistics.median(ours), "cp_s": statistics.median(copies), "peak_rss_mib": max(peaks),
            "start_s": statistics.median(starts),
            "largest_chunk_mib": largest, "total_mib": manifest["total_size_mb"]}


def hashing(binary):
    """Issue 18: BLAKE3 through the library (one update over 43 MB in memory, one thread) against Python's blake3 (the
    official Rust crate, max_threads=1) on the same bytes, alternating three times, each side's best of 5 per turn;
    SHA-256 (OpenSSL, through the library) beside them, and SHA-256 of two messages at once (PairedSHA256)."""
    import blake3
    log("hashing 43 MB: our BLAKE3 and SHA-256 against Python's blake3, one thread")
    length = 43_000_000
    data = (bytes(range(251)) * (length // 251 + 1))[:length]
    ours, reference = [], []
    for _ in range(3):
        ours.append(run_json([binary, "hash", "--bytes", str(length), "--runs", "5"]))
        best = min((lambda start: (blake3.blake3(data, max_threads=1).digest(), time.perf_counter() - start)[1])(
            time.perf_counter()) for _ in range(5))
        reference.append(length / best / 1e9)
    if ours[0]["blake3_hex"] != blake3.blake3(data).hexdigest():
        sys.exit(f"{binary} hash: BLAKE3 differs from Python's blake3")
    return {"ours_blake3_gb_per_s": max(r["blake3_gb_per_s"] for r in ours),
            "ours_sha256_gb_per_s": max(r["sha256_gb_per_s"] for r in ours),
            "ours_sha256_two_gb_per_s": max(r["sha256_two_messages_gb_per_s"] for r in ours),
            "sha256_pairs": ours[0]["sha256_pairs"],
            "python_blake3_gb_per_s": max(reference), "path": ours[0]["blake3_path"]}


def s3(ours):
    """100 MiB to and from SeaweedFS on loopback: ours with 1 and 8 parallel ranges, and curl."""
    log("S3 throughput against SeaweedFS, ours and curl")
    server = subprocess.Popen(testing("s3_servers") + ["seaweedfs"], stdout=subprocess.PIPE,
                              stdin=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT, text=True)
    try:
        details = json.loads(server.stdout.readline())
        common = ["--endpoint", details["endpoint"], "--bucket", details["bucket"], "--region", details["region"],
                  "--access-key", details["access_key"], "--secret-key", details["secret_key"], "--size-mb", "100"]
        mine = {n: run_json([ours, "s3", *common, "--concurrency", str(n)]) for n in (1, 8)}
        single = run_json([ours, "s3", *common, "--multipart-threshold-mb", "200"])
        with tempfile.TemporaryDirectory() as work:
            source = Path(work) / "object.bin"
            source.write_bytes(os.urandom(100 << 20))
            url = f"{details['endpoint']}/{details['bucket']}/bench/curl.bin"
            sign = ["--aws-sigv4", f"aws:amz:{details['region']}:s3", "--user",
                    f"{details['access_key']}:{details['secret_key']}", "-s", "-f"]
            up, _ = timed(["curl", *sign, "-T", str(source), url])
            down, _ = timed(["curl", *sign, "-o", str(Path(work) / "back.bin"), url])
        size = 100 * 1048576 / 1e6
        return {"ours": mine, "single": single, "curl": {"upload_mb_per_s": size / up, "download_mb_per_s": size / down}}
    finally:
        server.stdin.close()
        server.terminate()
        server.wait(timeout=30)


PYTHON_WEBSOCKETS = """
import asyncio, sys, time, websockets
message = b"Z" * (1 << 20)
async def handler(ws):
    for _ in range(1000):
        await ws.send(message)
    await ws.wait_closed()
async def main():
    async with websockets.serve(handler, "127.0.0.1", 0, max_size=None, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with websockets.connect(f"ws://127.0.0.1:{port}/", max_size=None, compression=None) as ws:
            start = time.perf_counter()
            received = 0
            for _ in range(1000):
                received += len(await ws.recv())
            print(received / (time.perf_counter() - start) / 1e9)
asyncio.run(main())
"""


def websocket(ours):
    """One client receiving 1 GB as 1 MiB binary messages over loopback: ours, iperf3, Python websockets."""
    log("WebSocket throughput against iperf3 and Python websockets")
    with socket.socket() as probe:  # a free port, so a run does not trip over the last one's server
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    server = subprocess.Popen(["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", port], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    result = subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", port, "-t", "3", "-J"], capture_output=True, text=True)
    server.wait(timeout=10)
    iperf = json.loads(result.stdout)["end"]["sum_received"]["bits_per_second"] / 8 / 1e9
    # Ours and Python's runs alternate, so a noisy stretch of the shared machine hits both.
    mine, theirs = [], []
    for _ in range(5):
        mine.append(run_json([ours, "websocket-throughput"])["gb_per_s"])
        theirs.append(float(subprocess.run([PYTHON, "-c", PYTHON_WEBSOCKETS], capture_output=True, text=True,
                                           check=True).stdout))
    mine, python = statistics.median(mine), statistics.median(theirs)
    with tempfile.TemporaryDirectory() as work:
        certificate, key = Path(work) / "certificate.pem", Path(work) / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(certificate)],
                       capture_output=True, check=True)
        secure = statistics.median(
            run_json([ours, "websocket-throughput", "--tls-certificate", str(certificate), "--tls-key", str(key)])["gb_per_s"]
            for _ in range(3))
    return {"ours": mine, "ours_wss": secure, "iperf3": iperf, "python_websockets": python, "load": websocket_load(ours)}


def websocket_load(ours):
    """256 clients each exchanging 100 messages of 1 MB with our echo server (a process of its own): every byte
    checked by the clients; the server's peak RSS from /proc."""
    log("WebSocket load: 256 clients x 100 x 1 MB")
    server = subprocess.Popen([ours, "echo-server"], stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True)
    try:
        port = server.stdout.readline().strip()
        result = run_json([ours, "websocket-load", "--url", f"ws://127.0.0.1:{port}/", "--clients", "256",
                           "--messages", "100"])
        status = Path(f"/proc/{server.pid}/status").read_text()
        result["server_peak_rss_mib"] = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024
        return result
    finally:
        server.kill()
        server.wait(timeout=10)


def chunk(chunker, model, output, *options):
    """`chunker MODEL --output-dir OUTPUT OPTIONS...`, quietly; returns OUTPUT."""
    subprocess.run([chunker, str(model), "--output-dir", str(output), *options], check=True, capture_output=True)
    return output


class WeightServer:
    """`weight-server --chunks-dir DIR --port 0` in the background; `url` and `pid` while it runs."""

    def __init__(self, binary, chunks):
        self.process = subprocess.Popen([binary, "--chunks-dir", str(chunks), "--port", "0"], stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True)
        self.url = self.process.stdout.readline().strip()
        self.pid = self.process.pid

    def peak_rss_mib(self):
        status = Path(f"/proc/{self.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.process.terminate()
        self.process.wait(timeout=30)


def streamed_over(row, floor=lambda local_ms: local_ms):
    """A streamed row's pass time over `floor` of the local pass time: the median of the ratios of streaming-forward's
    rounds (local then streamed, alternating), so that a change in the machine's load between two measurements moves
    one round, not the figure; runs saved before the rounds existed give the ratio of the medians."""
    if "round_streamed_ms" not in row:
        return row["streamed_ms"] / floor(row["local_ms"])
    return statistics.median(s / floor(l) for s, l in zip(row["round_streamed_ms"], row["round_local_ms"]))


def streaming(ours, chunker, server_binary, infer):
    """all-MiniLM-L6-v2 streamed from a weight server on loopback against the same chunks in memory; a BERT-large-shaped
    model streamed with cacheSize 2 for peak RSS; 32 clients pulling every MiniLM chunk at once."""
    log("streaming all-MiniLM-L6-v2 from a weight server on loopback")
    results = {}
    with tempfile.TemporaryDirectory() as work:
        chunks = chunk(chunker, MODELS["all-MiniLM-L6-v2"], Path(work) / "minilm")
        with WeightServer(server_binary, chunks) as server:
            for cache, prefetch in ((2, 1), (2, 0), (6, 1)):
                results[f"cache_{cache}_prefetch_{prefetch}"] = run_json(
                    [ours, "streaming-forward", "--server", server.url, "--chunks-dir", str(chunks), "--seq", "128",
                     "--cache-size", str(cache), "--prefetch", str(prefetch), "--server-pid", str(server.pid)])
            log("the same with 2 compute threads")
            results["cache_2_prefetch_1_threads_2"] = run_json(
                [ours, "streaming-forward", "--server", server.url, "--chunks-dir", str(chunks), "--seq", "128",
                 "--cache-size", "2", "--prefetch", "1", "--threads", "2", "--server-pid", str(server.pid)])
            log("32 clients pulling every MiniLM chunk at once")
            results["pull"] = run_json([ours, "pull", "--server", server.url, "--clients", "32"])
            results["pull"]["server_peak_rss_mib"] = server.peak_rss_mib()
        log("panels32 chunks (Linear weights pre-packed) streamed against the same chunks in memory")
        panels = chunk(chunker, MODELS["all-MiniLM-L6-v2"], Path(work) / "minilm-panels32", "--weight-layout", "panels32")
        with WeightServer(server_binary, panels) as server:
            for cache in (2, 6):
                results[f"panels32_cache_{cache}_prefetch_1"] = run_json(
                    [ours, "streaming-forward", "--server", server.url, "--chunks-dir", str(panels), "--seq", "128",
                     "--cache-size", str(cache), "--prefetch", "1", "--server-pid", str(server.pid)])
        log("float16 chunks streamed against the same float16 chunks in memory")
        half = chunk(chunker, MODELS["all-MiniLM-L6-v2"], Path(work) / "minilm-f16", "--dtype", "float16")
        with WeightServer(server_binary, half) as server:
            results["float16_cache_2_prefetch_1"] = run_json(
                [ours, "streaming-forward", "--server", server.url, "--chunks-dir", str(half), "--seq", "128",
                 "--cache-size", "2", "--prefetch", "1", "--server-pid", str(server.pid)])
        half_panels = chunk(chunker, MODELS["all-MiniLM-L6-v2"], Path(work) / "minilm-f16-panels32", "--dtype", "float16",
                            "--weight-layout", "panels32")
        with WeightServer(server_binary, half_panels) as server:
            results["float16_panels32_cache_2_prefetch_1"] = run_json(
                [ours, "streaming-forward", "--server", server.url, "--chunks-dir", str(half_panels), "--seq", "128",
                 "--cache-size", "2", "--prefetch", "1", "--server-pid", str(server.pid)])
        log("a BERT-large-shaped model (24 x 1024, random weights) streamed with cacheSize 2, prefetch 1")
        large = Path(work) / "large-model"
        subprocess.run([PYTHON, str(ROOT / "Fixtures" / "generators" / "make_synthetic_bert.py"), str(large)], check=True)
        large_chunks = chunk(chunker, large, Path(work) / "large")
        manifest = json.loads((large_chunks / "chunk_info.json").read_text())
        mib = {name: chunk["size"] / 1048576 for name, chunk in manifest["chunks"].items()}
        text = " ".join(["word"] * 126)  # 128 tokens with [CLS] and [SEP]
        with WeightServer(server_binary, large_chunks) as server:
            _, streamed = timed([infer, "--server", server.url, "--cache-size", "2", "--prefetch", "1", text])
        _, local = timed([infer, "--chunks-dir", str(large_chunks), text])
        results["memory"] = {"streamed_peak_mib": streamed, "local_peak_mib": local,
                             "bound_mib": mib["embeddings"] + mib["pooler"] + 3 * mib["layer_0"] + 100e6 / 1048576,
                             "model_mib": sum(mib.values())}
    return results


class ShapedLink:
    """A network namespace joined to this one by a veth pair, both ends shaped by tc's token bucket filter to `rate`
    (tc's spelling: 1gbit, 10gbit): a real link's rate between the weight server (at `address`, inside) and the
    client (outside). Needs root, iproute2 and tc."""

    NAMESPACE, HOST, PEER, address = "sw-bench-link", "swbench0", "swbench1", "10.77.0.2"

    def __init__(self, rate, bits_per_second):
        self.rate, self.bytes_per_second = rate, bits_per_second / 8

    def run(self, *command, inside=False):
        prefix = ["ip", "netns", "exec", self.NAMESPACE] if inside else []
        subprocess.run(prefix + list(command), check=True, capture_output=True)

    def remove(self):
        # The host's end first: deleting it removes the pair at once, where deleting the namespace
        # leaves the kernel to remove its devices a moment later (the next link then found its
        # name taken).
        subprocess.run(["ip", "link", "del", self.HOST], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.NAMESPACE], capture_output=True)

    def __enter__(self):
        self.remove()  # what a killed run left
        self.run("ip", "netns", "add", self.NAMESPACE)
        self.run("ip", "link", "add", self.HOST, "type", "veth", "peer", "name", self.PEER)
        self.run("ip", "link", "set", self.PEER, "netns", self.NAMESPACE)
        self.run("ip", "addr", "add", "10.77.0.1/24", "dev", self.HOST)
        self.run("ip", "link", "set", self.HOST, "up")
        self.run("ip", "addr", "add", f"{self.address}/24", "dev", self.PEER, inside=True)
        self.run("ip", "link", "set", self.PEER, "up", inside=True)
        self.run("ip", "link", "set", "lo", "up", inside=True)
        # A bucket of 10 ms at the rate: smaller ones cannot reach the rate between timer ticks.
        burst = str(int(self.bytes_per_second / 100))
        for device, inside in ((self.HOST, False), (self.PEER, True)):
            self.run("tc", "qdisc", "add", "dev", device, "root", "tbf", "rate", self.rate, "burst", burst,
                     "latency", "50ms", inside=inside)
        return self

    def __exit__(self, *_):
        self.remove()


def shaped_link(ours, chunker, server_binary):
    """Issue 18: MiniLM streamed (cache 2, prefetch 1, 1 thread) from a weight server behind a link shaped to 1 and
    10 Gbit/s, against the floor that link implies: max(local compute, bytes per pass / rate)."""
    if os.geteuid() != 0 or not shutil.which("tc"):
        log("shaped link: skipped (needs root and tc to make a network namespace)")
        return {}
    log("streaming all-MiniLM-L6-v2 through a shaped link: 1 and 10 Gbit/s")
    results = {}
    with tempfile.TemporaryDirectory() as work:
        chunks = chunk(chunker, MODELS["all-MiniLM-L6-v2"], Path(work) / "minilm")
        for rate, bits in (("1gbit", 1e9), ("10gbit", 1e10)):
            with ShapedLink(rate, bits) as link:
                server = subprocess.Popen(["ip", "netns", "exec", link.NAMESPACE, server_binary, "--chunks-dir",
                                           str(chunks), "--host", link.address, "--port", "0"],
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                try:
                    url = server.stdout.readline().strip()
                    row = run_json([ours, "streaming-forward", "--server", url, "--chunks-dir", str(chunks), "--seq",
                                    "128", "--cache-size", "2", "--prefetch", "1", "--cold-runs", "1", "--seconds", "4",
                                    "--server-pid", str(server.pid)])
                finally:
                    server.terminate()
                    server.wait(timeout=30)
            row["bytes_per_second"] = link.bytes_per_second
            row["link_floor_ms"] = max(row["local_ms"], row["bytes_per_pass"] / link.bytes_per_second * 1000)
            results[rate] = row
    return results


def link_ratio(row):
    """A shaped link's row: pass time over the link's floor, max(local compute, bytes per pass / rate), by rounds."""
    if "bytes_per_second" in row:
        transfer_ms = row["bytes_per_pass"] / row["bytes_per_second"] * 1000
    else:  # a run saved before: its floor is already the larger of the two
        transfer_ms = row["link_floor_ms"]
    return streamed_over(row, lambda local_ms: max(local_ms, transfer_ms))


class Cluster:
    """streaming_weights_testing.cluster in the background: N weight servers reading one bucket, nginx in front."""

    def __init__(self, chunks, bin_dir, servers, store="seaweedfs"):
        self.process = subprocess.Popen(
            testing("cluster") + ["--chunks", str(chunks), "--bin", str(bin_dir),
                                  "--servers", str(servers), "--store", store, "--prefix", "minilm"],
            stdout=subprocess.PIPE, stdin=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline()
        if not line:
            sys.exit("streaming_weights_testing.cluster did not start")
        self.details = json.loads(line)

    def environment(self):
        s3 = self.details["s3"]
        return {**os.environ, "AWS_ACCESS_KEY_ID": s3["access_key"], "AWS_SECRET_ACCESS_KEY": s3["secret_key"],
                "AWS_ENDPOINT_URL_S3": s3["endpoint"], "AWS_REGION": s3["region"], "AWS_EC2_METADATA_DISABLED": "true"}

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.process.stdin.close()
        self.process.terminate()
        self.process.wait(timeout=60)


def run_json_env(command, environment):
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=environment)
    if result.returncode != 0:
        sys.exit(f"{' '.join(map(str, command))} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def cluster(ours, chunker, server_binary):
    """Issue 9: 16 clients pulling all-MiniLM-L6-v2 through nginx from 1 and from 3 weight servers reading one
    SeaweedFS bucket; a streamed forward pass straight from the bucket against through a weight server."""
    log("a cluster: SeaweedFS, 1 and 3 weight servers behind nginx, 16 clients")
    results = {}
    bin_dir = Path(server_binary).parent
    with tempfile.TemporaryDirectory() as work:
        chunks = chunk(chunker, MODELS["all-MiniLM-L6-v2"], Path(work) / "minilm")
        for servers in (1, 3):
            with Cluster(chunks, bin_dir, servers) as c:
                # The first pull fills the servers' caches from the bucket; the second is measured.
                run_json([ours, "pull", "--server", c.details["url"], "--clients", "16"])
                results[f"pull_{servers}"] = run_json([ours, "pull", "--server", c.details["url"], "--clients", "16"])
                if servers == 1:
                    log("streamed forward: straight from the bucket, through the weight server, through nginx")
                    server_url = c.details["servers"][0]["url"]
                    for name, source in (("s3", c.details["source"]), ("server", server_url),
                                         ("nginx", c.details["url"])):
                        results[f"forward_{name}"] = run_json_env(
                            [ours, "streaming-forward", "--server", source, "--chunks-dir", str(chunks), "--seq",
                             "128", "--cache-size", "2", "--prefetch", "1"], c.environment())
    return results


def kernels(ours, native, debug_infer):
    """Issue 16: each kernel set this CPU runs, forced, against OpenBLAS forced to the same instruction set (matmul)
    and against ONNX Runtime (MiniLM forward); the plain build against -target-cpu native; a package depending on
    this one; a debug build's first embedding."""
    info = run_json([ours, "kernels"])
    minilm = MODELS["all-MiniLM-L6-v2"]
    results = {"cpu": info["cpu"], "machine": machine_name(), "selected": info["selected"],
               "descriptions": info["descriptions"], "sets": {}}
    # One thread pinned to one core, as the figures to reach say. The machine is shared: ours and
    # OpenBLAS alternate three times and each keeps its best (noise only ever slows a run down).
    pin = ["taskset", "-c", "1"] if shutil.which("taskset") and os.cpu_count() > 1 else []
    for name in info["supported"]:
        log(f"kernels: the {name} set, forced, against OpenBLAS forced to the same instruction set")
        environment = {**os.environ, "STREAMING_WEIGHTS_KERNELS": name}
        blas = {k: v for k, v in os.environ.items() if k != "OPENBLAS_L2_SIZE"}
        blas["OPENBLAS_CORETYPE"] = CORETYPES.get(name, "")
        entry = {"matmul": {}, "forward": {}}
        for _ in range(3):
            mine = run_json_env(pin + [ours, "matmul", "--shapes", BERT_SHAPES, "--threads", "1"], environment)["shapes"]
            for shape, value in mine.items():
                entry["matmul"][shape] = max(entry["matmul"].get(shape, 0), value["gflops_best"])
            if name in CORETYPES:
                reference = run_json_env(pin + REFERENCE + ["--what", "matmul", "--shapes", BERT_SHAPES, "--threads",
                                                            "1", "--keep-openblas-env"], blas)
                entry.setdefault("openblas", {})
                for shape, value in reference["shapes"].items():
                    entry["openblas"][shape] = max(entry["openblas"].get(shape, 0), value["gflops_best"])
                entry["openblas_kernel"] = ", ".join(b.get("architecture") or "" for b in reference.get("blas", []))
        for seq in (8, 128, 512):
            entry["forward"][seq] = run_json_env(
                pin + [ours, "forward", "--model", minilm, "--seq", str(seq), "--threads", "1"], environment)["ours"]["median_ms"]
        results["sets"][name] = entry
    log("kernels: ORT on MiniLM, 1 thread, seq 8 / 128 / 512")
    reference = run_json(pin + REFERENCE + ["--what", "forward", "--model", str(minilm), "--configs", "8x1,128x1,512x1",
                                            "--threads", "1", "--engines", "onnxruntime"])
    results["onnxruntime"] = {entry["seq"]: entry["onnxruntime"]["median_ms"] for entry in reference["results"]}
    log("kernels: the plain release build against -target-cpu native, alternating")
    plain_ms, native_ms, plain_gf, native_gf = [], [], [], []
    for _ in range(3):
        for binary, times, flops in ((ours, plain_ms, plain_gf), (native, native_ms, native_gf)):
            times.append(run_json([binary, "forward", "--model", minilm, "--seq", "128", "--threads", "1"])["ours"]["median_ms"])
            shapes = run_json([binary, "matmul", "--shapes", BERT_SHAPES, "--threads", "1"])["shapes"]
            flops.append(statistics.mean(v["gflops_median"] for v in shapes.values()))
    results["plain_vs_native"] = {"plain_ms": statistics.median(plain_ms), "native_ms": statistics.median(native_ms),
                                  "plain_gflops": statistics.median(plain_gf), "native_gflops": statistics.median(native_gf)}
    log("kernels: a package depending on this one by version, built with a plain swift build -c release, against "
        "-target-cpu native, alternating")
    with tempfile.TemporaryDirectory() as work:
        consumer = Path(work) / "timing"
        built = subprocess.run([str(ROOT / "scripts" / "check-importable"), "--bench-binary", str(consumer)],
                               capture_output=True, text=True, cwd=ROOT)
        if built.returncode != 0:
            sys.exit(f"scripts/check-importable --bench-binary failed:\n{built.stdout}{built.stderr}")
        # The dependent build and the native one alternate, and the ratio is the median of the rounds':
        # measured once each, minutes apart, the ratio ranged from 0.86 to 1.26 over four runs on one
        # machine, with its load.
        rounds = []
        for _ in range(3):
            mine = run_json([str(consumer), str(minilm)])
            theirs = run_json([native, "forward", "--model", minilm, "--seq", "128", "--threads", "1"])["ours"]
            rounds.append({"median_ms": mine["median_ms"], "native_ms": theirs["median_ms"]})
    results["dependent"] = {"median_ms": statistics.median(r["median_ms"] for r in rounds), "rounds": rounds,
                            "over_native": statistics.median(r["median_ms"] / r["native_ms"] for r in rounds)}
    log("kernels: a debug build's infer embedding one sentence with bert-tiny (process start to exit)")
    debug = []
    for _ in range(3):
        elapsed, _ = timed([debug_infer, "--model", str(MODELS["bert-tiny"]), "Hello, world!"])
        debug.append(elapsed)
    results["debug_infer_s"] = statistics.median(debug)
    return results


# Microarchitectures by vendor, family and model (/proc/cpuinfo), for the machines the team meets;
# the brand string alone does not tell them apart in a VM ("AMD EPYC" is Zen 4 and Zen 5 alike).
MICROARCHITECTURES = {
    ("AuthenticAMD", 23): "Zen / Zen 2", ("AuthenticAMD", 26): "Zen 5",
    ("GenuineIntel", 6, 85): "Skylake-SP / Cascade Lake", ("GenuineIntel", 6, 106): "Ice Lake-SP",
    ("GenuineIntel", 6, 143): "Sapphire Rapids", ("GenuineIntel", 6, 207): "Emerald Rapids",
}


def machine_name():
    """The CPU's brand string with its family, model, microarchitecture when known, and the widest vectors the
    machine offers: what a machine's figures are filed under in docs/machines.json. The last matters in a VM, whose
    host may hide AVX-512 from a CPU that has it (a Zen 4 seen here both ways, its AVX2-only guest slower)."""
    fields = {}
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    name = fields.get("model name") or platform.processor()
    vendor, family, model = fields.get("vendor_id", ""), int(fields.get("cpu family", 0)), int(fields.get("model", 0))
    arch = MICROARCHITECTURES.get((vendor, family, model)) or MICROARCHITECTURES.get((vendor, family))
    if vendor == "AuthenticAMD" and family == 25:
        arch = "Zen 4" if model in range(0x10, 0x20) or model in range(0x60, 0x80) or model in range(0xA0, 0xB0) \
            else "Zen 3"
    flags = set(fields.get("flags", "").split())
    isa = "AVX-512" if "avx512f" in flags else "AVX2, no AVX-512" if "avx2" in flags else None
    details = ", ".join(part for part in (f"model {model}", arch, isa) if part)
    return f"{name} (family {family}, {details})"


def machines_table(results, write):
    """Every machine's kernel figures: docs/machines.json's with this machine's in place, written back when `write`."""
    kernels = results["kernels"]
    cpu = kernels.get("machine") or machine_name()
    machines = json.loads(MACHINES.read_text()) if MACHINES.exists() else {}
    machines[cpu] = {
        "measured": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "selected": kernels["selected"],
        "sets": {name: {"matmul": entry["matmul"], "openblas": entry.get("openblas"), "forward": entry["forward"]}
                 for name, entry in kernels["sets"].items()},
        "onnxruntime": kernels["onnxruntime"],
    }
    if write:
        MACHINES.write_text(json.dumps(machines, indent=1, sort_keys=True, default=str) + "\n")
    lines = []
    for machine, data in sorted(machines.items()):
        lines += [f"### {machine} (measured {data['measured']}; picks `{data['selected']}` by itself)", "",
                  "| kernel set | matmul GFLOP/s (best of 3), 1 thread: " + " / ".join(BERT_SHAPES.split(",")) +
                  " | OpenBLAS forced to the same ISA | ours / OpenBLAS | MiniLM seq 8 / 128 / 512, 1 thread (ms) | "
                  "ours / ORT |", "|---|---|---|---|---|---|"]
        ort = {int(k): v for k, v in data["onnxruntime"].items()}
        for name, entry in data["sets"].items():
            mine = [entry["matmul"][s] for s in BERT_SHAPES.split(",")]
            forward = {int(k): v for k, v in entry["forward"].items()}
            theirs = entry.get("openblas")
            ratio = " / ".join(f"{m / theirs[s]:.2f}" for m, s in zip(mine, BERT_SHAPES.split(","))) if theirs else "-"
            blas = " / ".join(f"{theirs[s]:.0f}" for s in BERT_SHAPES.split(",")) if theirs else "-"
            lines.append(f"| {name} | {' / '.join(f'{m:.0f}' for m in mine)} | {blas} | {ratio} | "
                         f"{' / '.join(f'{forward[s]:.1f}' for s in (8, 128, 512))} | "
                         f"{' / '.join(f'{forward[s] / ort[s]:.2f}' for s in (8, 128, 512))} |")
        lines.append(f"| ONNX Runtime | | | | {' / '.join(f'{ort[s]:.1f}' for s in (8, 128, 512))} | 1.00 |")
        lines.append("")
    return "\n".join(lines)


def reference_lines_per_second(theirs):
    """Hugging Face tokenizers encoding one line at a time (`encode()`), median lines/s."""
    return theirs["encode"]["lines_per_s"]


def report(results):
    rounds = results["forward"][0].get("rounds", 1)
    lines = ["## Forward pass latency (median ms, batch of deterministic ids)", "",
             f"Ours and the references alternated {rounds} times per model; medians of the rounds (the ratios too: "
             "the median of each round's ratio)." if rounds > 1 else "Ours, then the references, once per model.", "",
             "| model | seq x batch | threads | ours | PyTorch | ONNX Runtime | ours / ORT | ours / PyTorch |",
             "|---|---|---|---|---|---|---|---|"]
    for row in results["forward"]:
        lines.append(f"| {row['model']} | {row['seq']} x {row['batch']} | {row['threads']} | {row['ours']:.3f} | "
                     f"{row['pytorch']:.3f} | {row['onnxruntime']:.3f} | {over_onnxruntime(row):.2f} | "
                     f"{over_pytorch(row):.2f} |")
    if results.get("architectures"):  # runs before the section have none
        rounds = results["architectures"][0].get("rounds", 1)
        lines += ["", "## Other architectures (MiniLM's shape, random weights, seq 128, batch 1)", "",
                  f"Ours and the references alternated {rounds} times per model; medians of the rounds (the ratios "
                  "too: the median of each round's ratio).", "",
                  "| model type | threads | ours ms | PyTorch ms | ORT ms | ours / ORT | ours / PyTorch |",
                  "|---|---|---|---|---|---|---|"]
        for row in results["architectures"]:
            lines.append(f"| {row['model_type']} | {row['threads']} | {row['ours']:.3f} | {row['pytorch']:.3f} | "
                         f"{row['onnxruntime']:.3f} | {row['ours_over_onnxruntime']:.2f} | "
                         f"{row['ours_over_pytorch']:.2f} |")
    kernel = results["matmul"][0]["kernel"] if results["matmul"] else ""
    lines += ["", f"## Matmul (GFLOP/s, median; M x K x N = rows x depth x output features; numpy uses {kernel})", "",
              "| shape | threads | ours | numpy (OpenBLAS) | ours / numpy | ours, weights as stored (streamed float32) |",
              "|---|---|---|---|---|---|"]
    for row in results["matmul"]:
        stored = f"{row['ours_stored']:.0f}" if "ours_stored" in row else ""
        lines.append(f"| {row['shape']} | {row['threads']} | {row['ours']:.0f} | {row['numpy']:.0f} | "
                     f"{row['ours'] / row['numpy']:.2f} | {stored} |")
    families = results["tokenize"].get("families") or [
        {"name": "BERT WordPiece (all-MiniLM-L6-v2)", "ours": results["tokenize"]["ours"],
         "theirs": results["tokenize"]["theirs"]}]
    lines += ["", "## Tokenizer (one thread, Fixtures/tokenizer/corpus.txt, one line at a time)", "",
              "| tokenizer | ours lines/s | ours MB/s | Hugging Face tokenizers `encode()` lines/s | ours / tokenizers |",
              "|---|---|---|---|---|"]
    for family in families:
        mine = family["ours"]
        theirs_lps = reference_lines_per_second(family["theirs"])
        lines.append(f"| {family['name']} | {mine['lines_per_second']:.0f} | {mine['mb_per_second']:.2f} | "
                     f"{theirs_lps:.0f} | {mine['lines_per_second'] / theirs_lps:.2f} |")
    if "hashing" in results:
        digest = results["hashing"]
        lines += ["", "## Hashing 43 MB in memory, one thread (best of 3 x 5, alternating)", "",
                  "| | GB/s | / Python blake3 |", "|---|---|---|",
                  f"| our BLAKE3 (path `{digest['path']}`) | {digest['ours_blake3_gb_per_s']:.2f} | "
                  f"{digest['ours_blake3_gb_per_s'] / digest['python_blake3_gb_per_s']:.2f} |",
                  f"| Python blake3 (the Rust crate), max_threads=1 | {digest['python_blake3_gb_per_s']:.2f} | 1.00 |",
                  f"| our SHA-256 (OpenSSL) | {digest['ours_sha256_gb_per_s']:.2f} | "
                  f"{digest['ours_sha256_gb_per_s'] / digest['python_blake3_gb_per_s']:.2f} |"]
        if "ours_sha256_two_gb_per_s" in digest:
            how = "SHA extensions, interleaved" if digest["sha256_pairs"] else "OpenSSL, one after the other"
            lines.append(f"| our SHA-256 of two messages at once ({how}; the chunker's), bytes of both | "
                         f"{digest['ours_sha256_two_gb_per_s']:.2f} | "
                         f"{digest['ours_sha256_two_gb_per_s'] / digest['python_blake3_gb_per_s']:.2f} |")
    chunk = results["chunking"]
    lines += ["", "## Chunking all-MiniLM-L6-v2 to a local directory (median of 5)", "",
              "| | seconds | speed vs cp | peak RSS MiB |", "|---|---|---|---|",
              f"| chunker | {chunk['ours_s']:.3f} | {chunk['cp_s'] / chunk['ours_s']:.2f} | {chunk['peak_rss_mib']:.0f} |",
              f"| cp of the same files | {chunk['cp_s']:.3f} | 1.00 | |", "",
              *([f"The chunker's fixed cost (`chunker --version`: start, parse, exit) is {chunk['start_s'] * 1000:.1f} ms "
                 "of its time.", ""] if "start_s" in chunk else []),
              f"Largest chunk {chunk['largest_chunk_mib']:.1f} MiB, {chunk['total_mib']:.1f} MiB in all; "
              f"the bound 2 x largest chunk + 50 MiB is {2 * chunk['largest_chunk_mib'] + 50:.0f} MiB."]
    s3 = results["s3"]
    lines += ["", "## S3: one 100 MiB object to and from SeaweedFS on loopback (MB/s)", "",
              "| | upload | download |", "|---|---|---|",
              f"| ours, 1 range; upload in 8 MiB parts, 1 at a time | {s3['ours'][1]['upload_mb_per_s']:.0f} | {s3['ours'][1]['download_mb_per_s']:.0f} |",
              f"| ours, 8 parallel ranges; 8 parts in flight | {s3['ours'][8]['upload_mb_per_s']:.0f} | {s3['ours'][8]['download_mb_per_s']:.0f} |",
              f"| ours, one PUT (as curl) | {s3['single']['upload_mb_per_s']:.0f} | {s3['single']['download_mb_per_s']:.0f} |",
              f"| curl --aws-sigv4 | {s3['curl']['upload_mb_per_s']:.0f} | {s3['curl']['download_mb_per_s']:.0f} |"]
    ws = results["websocket"]
    lines += ["", "## WebSocket: one client receiving 1 GB as 1 MiB binary messages over loopback (GB/s)", "",
              "| ours | iperf3 (one TCP stream) | Python websockets 17.4 | ours / iperf3 | ours / Python |", "|---|---|---|---|---|",
              f"| {ws['ours']:.2f} | {ws['iperf3']:.2f} | {ws['python_websockets']:.2f} | {ws['ours'] / ws['iperf3']:.2f} | "
              f"{ws['ours'] / ws['python_websockets']:.1f} |"]
    lines += ["", f"Over wss:// (TLS 1.3 through OpenSSL, same client and server): {ws['ours_wss']:.2f} GB/s.", "",
              "## WebSocket load: 256 clients, each exchanging 100 messages of 1 MB with the echo server", "",
              "| bytes checked | failures | seconds | echoed GB/s | server peak RSS (MiB) |", "|---|---|---|---|---|",
              f"| {ws['load']['bytes_checked']:,} | {ws['load']['failure_count']} | {ws['load']['seconds']:.1f} | "
              f"{ws['load']['gb_per_s']:.2f} | {ws['load']['server_peak_rss_mib']:.0f} |"]
    st = results["streaming"]
    lines += ["", "## Streaming all-MiniLM-L6-v2 from a weight server on loopback (seq 128, batch 1, 1 thread)", "",
              "| cache size, prefetch | local in memory (ms) | streamed (ms) | streamed / local | layer fetches | prefetch hits |",
              "|---|---|---|---|---|---|"]
    rows = [(f"{c}, {p}", f"cache_{c}_prefetch_{p}") for c, p in ((2, 1), (2, 0), (6, 1))]
    rows += [("2, 1, 2 compute threads", "cache_2_prefetch_1_threads_2"),
             ("2, 1, float16 chunks (local float16 too)", "float16_cache_2_prefetch_1"),
             ("2, 1, panels32 chunks (`--weight-layout panels32`)", "panels32_cache_2_prefetch_1"),
             ("6, 1, panels32 chunks", "panels32_cache_6_prefetch_1"),
             ("2, 1, float16 panels32 chunks (local the same)", "float16_panels32_cache_2_prefetch_1")]
    for label, key in rows:
        if key not in st:
            continue
        row = st[key]
        lines.append(f"| {label} | {row['local_ms']:.2f} | {row['streamed_ms']:.2f} | "
                     f"{streamed_over(row):.2f} | {row['layer_fetches']} | {row['prefetch_hits']} |")
    lines += ["", "Where a streamed pass's core time goes (core-ms per pass, steady state; `compute` is the local pass's "
              "time on the same thread; `client other` is the client's core time beyond its measured stages and compute: "
              "allocation, page faults, scheduling; the floor is the larger of compute and both processes' core time "
              "spread over the machine's cores):", "",
              "| cache size, prefetch | waited for layers (ms) | receive | hash | decode | pack | compute | client other | "
              "client total | server total | floor (ms) | streamed (ms) | streamed / floor |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, key in rows:
        if key not in st:
            continue
        row = st[key]
        core = row["core_ms_per_pass"]
        lines.append(f"| {label} | {row['wait_ms_per_pass']:.2f} | " + " | ".join(
            f"{core[k]:.1f}" for k in ("receive", "hash", "decode", "pack", "compute", "client_other", "client", "server"))
            + f" | {row['floor_ms']:.2f} | {row['streamed_ms']:.2f} | {row['streamed_ms'] / row['floor_ms']:.2f} |")
    lines += ["", f"Objects verified with {st['cache_2_prefetch_1']['digest']} (BLAKE3 path "
              f"`{st['cache_2_prefetch_1']['hash']}`)."]
    cold = st["cache_2_prefetch_1"]
    lines += ["", f"Cold start (connect, manifest, every chunk, first forward; median of {cold['cold_runs']}, alternating "
              f"with the local load): {cold['streamed_cold_s']:.3f} s, against "
              f"{cold['local_cold_s']:.3f} s to load the chunks from local disk and run one forward: "
              f"{cold['streamed_cold_s'] / cold['local_cold_s']:.2f}x.", "",
              "## Streaming a BERT-large-shaped model (24 layers, hidden 1024, random weights): `infer`'s peak RSS (MiB), 128 tokens", "",
              "| `--server`, cache size 2, prefetch 1 | bound: embeddings + pooler + 3 layers + 100 MB | `--chunks-dir` (every layer in memory) | model on disk |",
              "|---|---|---|---|",
              f"| {st['memory']['streamed_peak_mib']:.0f} | {st['memory']['bound_mib']:.0f} | "
              f"{st['memory']['local_peak_mib']:.0f} | {st['memory']['model_mib']:.0f} |", "",
              "## Weight server: 32 clients each pulling every all-MiniLM-L6-v2 chunk (hashes checked) at once", "",
              "| bytes | seconds | aggregate MB/s | server peak RSS (MiB) |", "|---|---|---|---|",
              f"| {st['pull']['bytes']:,} | {st['pull']['seconds']:.2f} | {st['pull']['mb_per_s']:.0f} | "
              f"{st['pull']['server_peak_rss_mib']:.0f} |"]
    link = results.get("link") or {}
    if link:
        lines += ["", "## Streaming all-MiniLM-L6-v2 through a shaped link (issue 18)", "",
                  "The weight server in a network namespace behind a veth pair shaped by tc's token bucket filter; "
                  "seq 128, cache 2, prefetch 1, 1 thread. The link's floor is max(local compute, bytes per pass / rate).",
                  "", "| link | MB per pass | link floor (ms) | streamed (ms) | streamed / floor | waited for layers (ms) |",
                  "|---|---|---|---|---|---|"]
        for rate, row in link.items():
            lines.append(f"| {rate.replace('gbit', ' Gbit/s')} | {row['bytes_per_pass'] / 1e6:.1f} | "
                         f"{row['link_floor_ms']:.1f} | {row['streamed_ms']:.1f} | "
                         f"{link_ratio(row):.2f} | {row['wait_ms_per_pass']:.1f} |")
    cl = results["cluster"]
    lines += ["", "## A cluster on loopback: weight servers reading one SeaweedFS bucket, nginx in front (issue 9)", "",
              "16 clients, each pulling every all-MiniLM-L6-v2 chunk (hashes checked) through nginx; the servers' "
              "caches warm. Every process shares the same 2 cores.", "",
              "| servers | bytes | seconds | aggregate MB/s | 3 servers / 1 |", "|---|---|---|---|---|"]
    for servers in (1, 3):
        row = cl[f"pull_{servers}"]
        lines.append(f"| {servers} | {row['bytes']:,} | {row['seconds']:.2f} | {row['mb_per_s']:.0f} | "
                     f"{row['mb_per_s'] / cl['pull_1']['mb_per_s']:.2f} |")
    lines += ["", "Streamed forward pass of all-MiniLM-L6-v2 (seq 128, cache 2, prefetch 1, 1 thread), by source:", "",
              "| source | streamed (ms) | local (ms) | streamed / local | / through the weight server | cold start (s) |",
              "|---|---|---|---|---|---|"]
    for name, label in (("s3", "`s3://` straight from SeaweedFS"), ("server", "`ws://` the weight server (reading the bucket)"),
                        ("nginx", "`ws://` nginx in front of the weight server")):
        row = cl[f"forward_{name}"]
        lines.append(f"| {label} | {row['streamed_ms']:.2f} | {row['local_ms']:.2f} | "
                     f"{streamed_over(row):.2f} | "
                     f"{row['streamed_ms'] / cl['forward_server']['streamed_ms']:.2f} | {row['streamed_cold_s']:.3f} |")
    lines += ["", "## Accuracy against transformers (Fixtures/golden)", "", "| model | measure | value |", "|---|---|---|"]
    for model, values in results["accuracy"].items():
        for key, value in sorted(values.items()):
            lines.append(f"| {model} | {key} | {value:.3g} |")
    return "\n".join(lines)


def targets(results):
    def row(model, seq, batch, threads):
        return next(r for r in results["forward"] if (r["model"], r["seq"], r["batch"], r["threads"]) == (model, seq, batch, threads))
    checks = []
    minilm1, minilm2, tiny = row("all-MiniLM-L6-v2", 128, 1, 1), row("all-MiniLM-L6-v2", 128, 1, 2), row("bert-tiny", 8, 1, 1)
    checks.append(("MiniLM seq 128, 1 thread: ours / ORT <= 0.9", over_onnxruntime(minilm1), 0.9))
    checks.append(("MiniLM seq 128, 2 threads: ours / ORT <= 1.0", over_onnxruntime(minilm2), 1.0))
    checks.append(("MiniLM seq 128, 1 thread: ours / PyTorch <= 0.7", over_pytorch(minilm1), 0.7))
    checks.append(("MiniLM seq 128, 2 threads: ours / PyTorch <= 0.7", over_pytorch(minilm2), 0.7))
    checks.append(("bert-tiny seq 8, 1 thread: ours / ORT <= 1.0", over_onnxruntime(tiny), 1.0))
    # The other architectures against the same limits as MiniLM (their rows are seq 128, batch 1).
    for entry in results.get("architectures") or []:
        threads, model_type = entry["threads"], entry["model_type"]
        plural = "thread" if threads == 1 else "threads"
        ort_limit = 0.9 if threads == 1 else 1.0
        checks.append((f"{model_type} (MiniLM's shape) seq 128, {threads} {plural}: ours / ORT <= {ort_limit}",
                       entry["ours_over_onnxruntime"], ort_limit))
        checks.append((f"{model_type} (MiniLM's shape) seq 128, {threads} {plural}: ours / PyTorch <= 0.7",
                       entry["ours_over_pytorch"], 0.7))
    for shape in ("128x384x384", "128x384x1536", "128x1536x384"):
        entry = next(r for r in results["matmul"] if r["shape"] == shape and r["threads"] == 1)
        checks.append((f"matmul {shape}, 1 thread: numpy / ours <= 1.0", entry["numpy"] / entry["ours"], 1.0))
    kernels = results["kernels"]
    for name, entry in kernels["sets"].items():
        for shape in BERT_SHAPES.split(",") if entry.get("openblas") else []:
            checks.append((f"kernels {name}, matmul {shape}, 1 thread: OpenBLAS ({CORETYPES[name]}) / ours <= 1.0",
                           entry["openblas"][shape] / entry["matmul"][shape], 1.0))
    chosen = kernels["sets"][kernels["selected"]]["forward"]
    for seq in (8, 512):
        checks.append((f"kernels {kernels['selected']} (picked by itself), MiniLM seq {seq}, 1 thread: ours / ORT <= 1.0",
                       chosen[seq] / kernels["onnxruntime"][seq], 1.0))
    pvn = kernels["plain_vs_native"]
    checks.append(("plain swift build -c release / -target-cpu native, MiniLM seq 128 forward <= 1.1",
                   pvn["plain_ms"] / pvn["native_ms"], 1.1))
    checks.append(("-target-cpu native / plain build, matmul GFLOP/s <= 1.1", pvn["native_gflops"] / pvn["plain_gflops"], 1.1))
    checks.append(("a package depending on this one (plain release) / -target-cpu native, MiniLM seq 128 <= 1.1",
                   kernels["dependent"].get("over_native", kernels["dependent"]["median_ms"] / pvn["native_ms"]), 1.1))
    checks.append(("debug build: infer --model bert-tiny, one sentence, seconds <= 1.0", kernels["debug_infer_s"], 1.0))
    for family in results["tokenize"].get("families") or [
            {"name": "BERT WordPiece", "ours": results["tokenize"]["ours"], "theirs": results["tokenize"]["theirs"]}]:
        theirs_lps = reference_lines_per_second(family["theirs"])
        checks.append((f"tokenizer, {family['name']}: tokenizers / ours <= 1.0",
                       theirs_lps / family["ours"]["lines_per_second"], 1.0))
    if "hashing" in results:
        digest = results["hashing"]
        checks.append(("BLAKE3, 43 MB, 1 thread: Python blake3 / ours <= 1 / 0.9 (ours >= 0.9x)",
                       digest["python_blake3_gb_per_s"] / digest["ours_blake3_gb_per_s"], 1 / 0.9))
    chunk = results["chunking"]
    checks.append(("chunking MiniLM: cp time / chunker time >= 0.5 (shown as chunker / cp <= 2)",
                   chunk["ours_s"] / chunk["cp_s"], 2.0))
    checks.append(("chunking MiniLM: peak RSS MiB <= 2 x largest chunk + 50", chunk["peak_rss_mib"],
                   2 * chunk["largest_chunk_mib"] + 50))
    for model, values in results["accuracy"].items():
        for key, value in values.items():
            if key.endswith("max_abs_diff"):
                checks.append((f"{model} {key} <= 1e-4", value, 1e-4))
            if key.endswith("min_cosine"):
                checks.append((f"{model} 1 - {key} <= 1e-5", 1 - value, 1e-5))
    ws = results["websocket"]
    checks.append(("WebSocket: iperf3 / ours <= 1 / 0.7 (ours >= 0.7x iperf3)", ws["iperf3"] / ws["ours"], 1 / 0.7))
    checks.append(("WebSocket: Python websockets / ours <= 0.25 (ours >= 4x)", ws["python_websockets"] / ws["ours"], 0.25))
    st = results["streaming"]
    steady = st["cache_2_prefetch_1"]
    # Issue 18: 1.15 where the client computes with AVX-512, 1.3 on an AVX2-only machine (its compute is slower
    # relative to the fetching); the cold start 1.25 (issue 7 asked 1.5).
    steady_limit = 1.15 if "avx512f" in Path("/proc/cpuinfo").read_text() else 1.3
    checks.append((f"streaming MiniLM, cache 2, prefetch 1: streamed / local <= {steady_limit}",
                   streamed_over(steady), steady_limit))
    checks.append(("streaming MiniLM cold start: streamed / local <= 1.25",
                   steady["streamed_cold_s"] / steady["local_cold_s"], 1.25))
    if "panels32_cache_2_prefetch_1" in st:
        checks.append((f"streaming MiniLM panels32 chunks, cache 2, prefetch 1: streamed / local <= {steady_limit}",
                       streamed_over(st["panels32_cache_2_prefetch_1"]), steady_limit))
    if "float16_cache_2_prefetch_1" in st:
        half = st["float16_cache_2_prefetch_1"]
        checks.append(("streaming MiniLM float16 chunks, cache 2, prefetch 1: streamed / local <= 1.05",
                       streamed_over(half), 1.05))
    if "float16_panels32_cache_2_prefetch_1" in st:
        checks.append(("streaming MiniLM float16 panels32 chunks, cache 2, prefetch 1: streamed / local <= 1.05",
                       streamed_over(st["float16_panels32_cache_2_prefetch_1"]), 1.05))
    checks.append(("streaming BERT-large shape: infer peak RSS MiB <= bound", st["memory"]["streamed_peak_mib"],
                   st["memory"]["bound_mib"]))
    for rate, row in (results.get("link") or {}).items():
        checks.append((f"streaming MiniLM through a {rate} link: streamed / link floor <= 1.1",
                       link_ratio(row), 1.1))
    return ["| target | measured | met |", "|---|---|---|"] + [
        f"| {name} | {value:.3g} | {'yes' if value <= limit else 'NO'} |" for name, value, limit in checks]


def svg(results):
    """Latency against sequence length for all-MiniLM-L6-v2, batch 1: ours, PyTorch, ORT, 1 and 2 threads."""
    width, height, left, bottom, top, right = 820, 420, 70, 50, 40, 240
    series = []
    colors = {"ours": "#d62728", "pytorch": "#1f77b4", "onnxruntime": "#2ca02c"}
    names = {"ours": "StreamingWeights", "pytorch": "PyTorch", "onnxruntime": "ONNX Runtime"}
    for engine in ("ours", "pytorch", "onnxruntime"):
        for threads in THREADS:
            points = sorted((r["seq"], r[engine]) for r in results["forward"]
                            if r["model"] == "all-MiniLM-L6-v2" and r["batch"] == 1 and r["threads"] == threads)
            series.append((engine, threads, points))
    seqs = sorted({p[0] for _, _, pts in series for p in pts})
    top_ms = max(p[1] for _, _, pts in series for p in pts) * 1.1

    def x(seq):
        return left + (width - left - right) * seqs.index(seq) / max(1, len(seqs) - 1)

    def y(ms):
        return height - bottom - (height - bottom - top) * ms / top_ms

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="22" font-size="14">all-MiniLM-L6-v2 forward latency, batch 1 (median ms; lower is better)</text>',
           f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="black"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="black"/>']
    for tick in range(6):
        ms = top_ms * tick / 5
        out.append(f'<text x="{left - 8}" y="{y(ms) + 4:.1f}" text-anchor="end">{ms:.0f}</text>')
        out.append(f'<line x1="{left}" y1="{y(ms):.1f}" x2="{width - right}" y2="{y(ms):.1f}" stroke="#ddd"/>')
    for seq in seqs:
        out.append(f'<text x="{x(seq):.1f}" y="{height - bottom + 18}" text-anchor="middle">{seq}</text>')
    out.append(f'<text x="{(left + width - right) / 2}" y="{height - 12}" text-anchor="middle">sequence length (tokens)</text>')
    for index, (engine, threads, points) in enumerate(series):
        dash = "" if threads == 1 else ' stroke-dasharray="6,4"'
        path = " ".join(f"{x(s):.1f},{y(ms):.1f}" for s, ms in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colors[engine]}" stroke-width="2"{dash}/>')
        for s, ms in points:
            out.append(f'<circle cx="{x(s):.1f}" cy="{y(ms):.1f}" r="3" fill="{colors[engine]}"/>')
        legend_y = top + 18 * index
        out.append(f'<line x1="{width - right + 15}" y1="{legend_y}" x2="{width - right + 40}" y2="{legend_y}" '
                   f'stroke="{colors[engine]}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{width - right + 45}" y="{legend_y + 4}">{names[engine]}, {threads} thread{"s" if threads > 1 else ""}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def integer_keys(mapping):
    """JSON turns the integer keys of a saved run (sequence lengths, range counts) into strings; turn them back."""
    return {int(k) if isinstance(k, str) and k.isdigit() else k: v for k, v in mapping.items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ours", required=True)
    parser.add_argument("--native-ours", required=True, help="streaming-weights-bench built with -target-cpu native")
    parser.add_argument("--debug-infer", required=True, help="infer from a debug build")
    parser.add_argument("--chunker", required=True)
    parser.add_argument("--server", required=True)
    parser.add_argument("--infer", required=True)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--only", choices=["forward", "architectures", "matmul", "kernels", "tokenize", "accuracy",
                                           "chunking", "hashing", "s3", "websocket", "streaming", "link", "cluster"],
                        help="run one section and print its results as JSON (nothing is written)")
    parser.add_argument("--from-results", type=Path,
                        help="render the report from a saved run (.build-bench/last-run.json) instead of measuring")
    args = parser.parse_args()
    sections = {"forward": lambda: forward(args.ours), "architectures": lambda: architectures(args.ours),
                "matmul": lambda: matmul(args.ours),
                "kernels": lambda: kernels(args.ours, args.native_ours, args.debug_infer),
                "tokenize": lambda: tokenize(args.ours), "accuracy": lambda: accuracy(args.ours),
                "chunking": lambda: chunking(args.chunker), "hashing": lambda: hashing(args.ours),
                "s3": lambda: s3(args.ours),
                "websocket": lambda: websocket(args.ours),
                "streaming": lambda: streaming(args.ours, args.chunker, args.server, args.infer),
                "link": lambda: shaped_link(args.ours, args.chunker, args.server),
                "cluster": lambda: cluster(args.ours, args.chunker, args.server)}
    if args.only:
        print(json.dumps(sections[args.only](), indent=2, default=str))
        return
    if args.from_results:
        results = json.loads(args.from_results.read_text(), object_hook=integer_keys)
    else:
        # Saved after each section and before anything is rendered, so that a fault costs a rerender
        # or the sections after it, not the run.
        results = {}
        (ROOT / ".build-bench").mkdir(exist_ok=True)
        for name, run in sections.items():
            results[name] = run()
            (ROOT / ".build-bench" / "last-run.json").write_text(json.dumps(results, default=str, indent=1))
    body = report(results)
    machines = machines_table(results, write=not args.no_write)
    goals = "\n".join(targets(results))
    print(body + "\n\n## Targets\n\n" + goals)
    if args.no_write:
        return
    cpu = results["kernels"].get("machine") or machine_name()
    flags = Path("/proc/cpuinfo").read_text()
    isa = "AVX-512" if "avx512f" in flags else ("AVX2" if "avx2" in flags else "SSE")
    pvn = results["kernels"]["plain_vs_native"]
    document = f"""# Performance

Measured by `scripts/bench` (a plain release build, as users build it: no CPU flag; PyTorch 2.13
CPU, ONNX Runtime, numpy/OpenBLAS and Hugging Face tokenizers measured in the same run) on {cpu}
({isa}; kernel set `{results["kernels"]["selected"]}`), {datetime.now(timezone.utc).strftime('%Y-%m-%d')}.
This machine is shared and noisy: compare ratios within this run, not figures across runs. Rerun
with `scripts/bench`.

![latency against sequence length](latency.svg)

## Targets (issues 3, 4, 6, 7, 16, 18, 19)

{goals}

## Kernel sets, by machine (issue 16)

Each kernel set this CPU runs, forced with `STREAMING_WEIGHTS_KERNELS`, one thread pinned to one
core: matmul on BERT's three shapes against numpy's OpenBLAS forced to the same instruction set
(`OPENBLAS_CORETYPE`, `OPENBLAS_L2_SIZE` unset), alternating three times, each side's best; and
all-MiniLM-L6-v2's forward pass (median) against ONNX Runtime's. Every machine the team has run `scripts/bench` on keeps its table (docs/machines.json).

{machines}
The plain build against `-target-cpu native` on this machine (MiniLM seq 128, 1 thread, median of
3 alternating runs): {pvn["plain_ms"]:.2f} ms against {pvn["native_ms"]:.2f} ms; matmul
{pvn["plain_gflops"]:.0f} against {pvn["native_gflops"]:.0f} GFLOP/s. A package depending on this one by
version (`scripts/check-importable --bench-binary`, plain `swift build -c release`), alternating with
the native build three times: {results["kernels"]["dependent"]["median_ms"]:.2f} ms. A debug build's `infer --model Fixtures/bert-tiny`
embedding one sentence, process start to exit: {results["kernels"]["debug_infer_s"]:.2f} s.

{body}
"""
    (ROOT / "docs" / "PERFORMANCE.md").write_text(document)
    (ROOT / "docs" / "latency.svg").write_text(svg(results))
    log("wrote docs/PERFORMANCE.md and docs/latency.svg")


if __name__ == "__main__":
    main()
