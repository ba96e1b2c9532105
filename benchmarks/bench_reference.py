#!/usr/bin/env python3
"""Reference measurements for the benchmark: what PyTorch, ONNX Runtime, numpy's OpenBLAS and
Hugging Face `tokenizers` do on this machine, so the Swift figures can be printed beside them.

One configuration per call; prints ONE JSON object on stdout, logs on stderr. Modes:

  --what forward  --model DIR --seq N --batch B --threads T [--repeat R] [--engines pytorch,onnxruntime]
      Encoder forward latency (AutoModel: BERT, RoBERTa, XLM-RoBERTa, CamemBERT, DistilBERT,
      MPNet; eval, float32, torch.inference_mode) in PyTorch and in ONNX Runtime (the model
      exported once to .build-bench/onnx/<model>.onnx with the inputs the model takes, dynamic
      batch and sequence axes). {"pytorch": {"median_ms", "min_ms", ...}, "onnxruntime": {...}, ...}
      The ids are those streaming-weights-bench feeds (syntheticBatch): 101, then
      1000 + (i*7919) % 20000 for i in 1..<seq-1, then 102; they must lie inside the vocabulary
      and avoid the pad id. Models without token_type_ids (DistilBERT, MPNet) get none.
      To save the ~3 s of imports per process, --configs 8x1,128x1,512x1,128x8 (SEQxBATCH) and
      --threads 1,2 measure several configurations in one process; the object then has
      "results": [{"seq", "batch", "threads", "pytorch", "onnxruntime"}, ...] instead.
  --what matmul   --shapes "MxKxN,..." --threads T
      numpy float32 matmul (M x K) @ (K x N), flops = 2*M*K*N, in GFLOP/s. Runs in a child
      process without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (they pin a slower kernel here) unless
      --keep-openblas-env; reports the kernel threadpoolctl sees.
  --what tokenize --vocab-dir DIR --corpus FILE
      single-threaded throughput of `tokenizers`: encode() line by line, and encode_batch(), in
      lines/s and MB/s of UTF-8 input.

Without --repeat, each measurement runs for about --target-seconds (forward 0.75 s per engine,
i.e. ~1.5 s per configuration; matmul 0.3 s per shape; tokenize 1 s per method) with at least
--min-repeat (5) runs, after a warm-up. The machine may be shared: each measurement carries
"other_cores_busy", the CPU other processes used meanwhile (in cores; near 0 = quiet), and the
JSON the load average before and after.
"""
from __future__ import annotations

import argparse
import gc
import hashlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ONNX_CACHE = REPO_ROOT / ".build-bench" / "onnx"
CLS_ID, SEP_ID = 101, 102
# The largest id make_token_ids gives: 1000 + 19999 (the vocabulary must hold it).
MAX_SYNTHETIC_ID = 1000 + 20000 - 1
INPUT_NAMES = ["input_ids", "attention_mask", "token_type_ids"]
OUTPUT_NAMES = ["last_hidden_state", "pooler_output"]
ONNX_OPSET = 17
# Seconds of timed runs per measurement when --repeat is not given: forward, per engine and
# configuration (so ~1.5 s per configuration for both engines); matmul, per shape; tokenize, per
# method.
DEFAULT_TARGET_S = {"forward": 0.75, "matmul": 0.3, "tokenize": 1.0}


def log(message: str) -> None:
    print(f"[bench_reference] {message}", file=sys.stderr, flush=True)


def machine_info() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }


def summarize_ms(samples_s: list[float]) -> dict:
    ms = [s * 1e3 for s in samples_s]
    return {
        "median_ms": round(statistics.median(ms), 4),
        "min_ms": round(min(ms), 4),
        "mean_ms": round(statistics.fmean(ms), 4),
        "max_ms": round(max(ms), 4),
        "runs": len(ms),
    }


class CpuMonitor:
    """CPU time that other processes used while the block ran, from /proc/stat minus this
    process's own (and its waited-for children's) CPU time: a noise indicator, in cores."""

    @staticmethod
    def _system_busy_s() -> float | None:
        try:
            fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        except OSError:
            return None
        values = [int(x) for x in fields]
        idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
        busy = sum(values[:8]) - idle  # user..steal; guest is already inside user
        return busy / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _own_cpu_s() -> float:
        import resource

        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    def __enter__(self):
        self.wall0 = time.perf_counter()
        self.sys0 = self._system_busy_s()
        self.own0 = self._own_cpu_s()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall0
        sys1 = self._system_busy_s()
        self.other = None
        if self.sys0 is not None and sys1 is not None and self.wall > 0:
            other_s = (sys1 - self.sys0) - (self._own_cpu_s() - self.own0)
            self.other = max(0.0, other_s / self.wall)
        return False

    def report(self) -> dict:
        return {"other_cores_busy": None if self.other is None else round(self.other, 2)}


def time_calls(fn, repeat: int | None, target_s: float, min_repeat: int, max_repeat: int,
               warmup_s: float, min_warmup: int) -> list[float]:
    """Warm up (at least min_warmup calls and warmup_s seconds), then time `repeat` calls, or as
    many as fit in target_s judged from the warm-up (at least min_repeat, at most max_repeat)."""
    warm = []
    start = time.perf_counter()
    while len(warm) < min_warmup or (time.perf_counter() - start < warmup_s and len(warm) < 50):
        t0 = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - t0)
    if repeat is None:
        estimate = statistics.median(warm[1:] if len(warm) > 1 else warm)
        repeat = min(max_repeat, max(min_repeat, math.ceil(target_s / max(estimate, 1e-9))))
    samples = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t0)
    finally:
        if gc_was_enabled:
            gc.enable()
    return samples


# ---------------------------------------------------------------------------------------------
# forward


def make_token_ids(batch: int, seq: int):
    """Deterministic ids: [CLS], 1000 + ((i * 7919) % 20000) ..., [SEP]; row b starts at i = b*seq.
    For batch 1 these are exactly the ids of streaming-weights-bench's syntheticBatch (101, then
    1000 + (i*7919) % 20000 for i in 1..<seq-1, then 102); for batch > 1 syntheticBatch repeats
    row 0 in every row where this continues the sequence (same cost, different ids)."""
    import numpy as np

    ids = np.empty((batch, seq), dtype=np.int64)
    for b in range(batch):
        i = np.arange(b * seq, (b + 1) * seq, dtype=np.int64)
        ids[b] = 1000 + (i * 7919) % 20000
    ids[:, 0] = CLS_ID
    if seq > 1:
        ids[:, -1] = SEP_ID
    return ids


def file_fingerprint(path: Path) -> dict:
    st = path.stat()
    return {"name": path.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def model_inputs(model) -> list[str]:
    """The inputs of INPUT_NAMES that model.forward takes, in that order (DistilBERT and MPNet
    take no token_type_ids)."""
    import inspect

    taken = inspect.signature(model.forward).parameters
    names = [name for name in INPUT_NAMES if name in taken]
    if names[:2] != ["input_ids", "attention_mask"]:
        raise SystemExit(f"{type(model).__name__}.forward does not take input_ids and attention_mask")
    return names


def model_outputs(model, input_names: list[str]) -> list[str]:
    """last_hidden_state, and pooler_output when the model returns one (BERT, RoBERTa-family and
    MPNet models with their pooler; not DistilBERT)."""
    import torch

    ids = torch.from_numpy(make_token_ids(1, 4))
    example = {"input_ids": ids, "attention_mask": torch.ones_like(ids),
               "token_type_ids": torch.zeros_like(ids)}
    with torch.inference_mode():
        out = model(**{name: example[name] for name in input_names}, return_dict=True)
    return OUTPUT_NAMES if getattr(out, "pooler_output", None) is not None else ["last_hidden_state"]


def check_token_ids(config, ids) -> None:
    """The synthetic ids must be real tokens of the model: inside the vocabulary, and not its pad
    id (RoBERTa-family and MPNet position ids skip pad tokens)."""
    vocab = getattr(config, "vocab_size", None)
    if vocab is not None and int(ids.max()) >= vocab:
        raise SystemExit(f"the synthetic ids go up to {int(ids.max())} but the vocabulary has {vocab} "
                         f"entries: --what forward needs a vocabulary of at least {MAX_SYNTHETIC_ID + 1}")
    pad = getattr(config, "pad_token_id", None)
    if pad is not None and bool((ids == pad).any()):
        raise SystemExit(f"the synthetic ids contain the pad id {pad}")


def export_onnx(model, model_dir: Path, onnx_path: Path, input_names: list[str] | None = None,
                output_names: list[str] | None = None) -> dict:
    """Exports `model` to onnx_path unless a cached export of the same weights and exporter is
    there, with inputs `input_names` and outputs `output_names` (BERT's three and two by
    default). Returns facts about the export for the JSON."""
    import torch

    weights = model_dir / "model.safetensors"
    source = {
        "weights": file_fingerprint(weights),
        "config_sha256": hashlib.sha256((model_dir / "config.json").read_bytes()).hexdigest(),
        "torch": torch.__version__,
        "opset": ONNX_OPSET,
        "exporter": "torchscript (dynamo=False)",
    }
    meta_path = onnx_path.with_name(onnx_path.name + ".json")
    if onnx_path.exists() and meta_path.exists():
        try:
            if json.loads(meta_path.read_text()).get("source") == source:
                return {"path": str(onnx_path), "cached": True, **source}
        except (OSError, ValueError):
            pass

    input_names = input_names or INPUT_NAMES
    output_names = output_names or OUTPUT_NAMES

    class Wrapper(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *inputs):
            out = self.inner(**dict(zip(input_names, inputs)), return_dict=True)
            return tuple(getattr(out, name) for name in output_names)

    # eval() on the wrapper too: the exporter restores the wrapper's training flag afterwards,
    # recursively, and a fresh Module is in training mode (dropout on).
    wrapper = Wrapper(model).eval()
    ids = torch.from_numpy(make_token_ids(2, 16))  # not 1: keep the traced shapes generic
    example = {"input_ids": ids, "attention_mask": torch.ones_like(ids),
               "token_type_ids": torch.zeros_like(ids)}
    dynamic_axes = {name: {0: "batch", 1: "sequence"} for name in input_names + ["last_hidden_state"]}
    if "pooler_output" in output_names:
        dynamic_axes["pooler_output"] = {0: "batch"}
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = onnx_path.with_name(f".{onnx_path.name}.{os.getpid()}.tmp")
    log(f"exporting {model_dir.name} to {onnx_path}")
    t0 = time.perf_counter()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper, tuple(example[name] for name in input_names), str(tmp_path),
            dynamo=False, input_names=input_names, output_names=output_names,
            dynamic_axes=dynamic_axes, opset_version=ONNX_OPSET, do_constant_folding=True)
    model.eval()
    os.replace(tmp_path, onnx_path)
    meta_path.write_text(json.dumps({"source": source}, indent=1) + "\n")
    return {"path": str(onnx_path), "cached": False,
            "export_s": round(time.perf_counter() - t0, 2), **source}


def parse_forward_configs(args) -> list[tuple[int, int]]:
    if not args.configs:
        return [(args.seq, args.batch)]
    configs = []
    for item in args.configs.split(","):
        item = item.strip().lower()
        parts = item.split("x")
        if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
            raise SystemExit(f"bad --configs item {item!r}: want SEQxBATCH, e.g. 128x8")
        configs.append((int(parts[0]), int(parts[1])))
    return configs


def run_forward(args) -> dict:
    thread_counts = args.thread_list
    configs = parse_forward_configs(args)
    # Pools are sized from these when torch/onnxruntime start; set_num_threads narrows them.
    os.environ["OMP_NUM_THREADS"] = str(max(thread_counts))
    os.environ["MKL_NUM_THREADS"] = str(max(thread_counts))
    import numpy as np
    import torch
    import transformers
    from transformers import AutoModel

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass

    model_dir = Path(args.model).resolve()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(engines) - {"pytorch", "onnxruntime"}
    if unknown:
        raise SystemExit(f"unknown engine(s) {sorted(unknown)}: use pytorch, onnxruntime")
    model = AutoModel.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    model_type = model.config.model_type
    input_names = model_inputs(model)
    output_names = model_outputs(model, input_names)
    common: dict = {
        "what": "forward",
        "model": model_dir.name,
        "inputs": "ids 1000+((i*7919)%20000), [CLS]=101 first, [SEP]=102 last; mask ones; " +
                  ("token_type_ids zeros" if "token_type_ids" in input_names else
                   "no token_type_ids (the model takes none)"),
        "outputs": " and ".join(output_names),
        "timing": "median/min over adaptive runs after warm-up; other_cores_busy = CPU used by "
                  "other processes during the measurement, in cores (noise indicator)",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    }
    if model_type != "bert":  # BERT's JSON as before
        common["model_type"] = model_type
        common["model_class"] = type(model).__name__
        common["input_names"] = input_names
    common["attn_implementation"] = model.config._attn_implementation
    timing = dict(repeat=args.repeat, target_s=args.target_seconds, min_repeat=args.min_repeat,
                  max_repeat=args.max_repeat, warmup_s=args.warmup_seconds, min_warmup=3)

    sessions = {}
    if "onnxruntime" in engines:
        import onnxruntime as ort

        onnx_path = Path(args.onnx_path) if args.onnx_path else ONNX_CACHE / f"{model_dir.name}.onnx"
        common["onnx_export"] = export_onnx(model, model_dir, onnx_path, input_names, output_names)
        common["versions"]["onnxruntime"] = ort.__version__
        common["onnxruntime_options"] = ("CPUExecutionProvider, intra_op_num_threads=T, "
                                         "inter_op_num_threads=1, ORT_SEQUENTIAL, ORT_ENABLE_ALL")

        def session_for(threads: int):
            if threads not in sessions:
                options = ort.SessionOptions()
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                options.log_severity_level = 3
                sessions[threads] = ort.InferenceSession(str(onnx_path), options,
                                                         providers=["CPUExecutionProvider"])
            return sessions[threads]

    results = []
    for threads in thread_counts:
        torch.set_num_threads(threads)
        for seq, batch in configs:
            entry: dict = {"seq": seq, "batch": batch, "threads": threads}
            ids = make_token_ids(batch, seq)
            check_token_ids(model.config, ids)
            mask = np.ones_like(ids)
            types = np.zeros_like(ids)
            arrays = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            feeds = {name: arrays[name] for name in input_names}
            t_feeds = {name: torch.from_numpy(value) for name, value in feeds.items()}
            with torch.inference_mode():
                reference = model(**t_feeds).last_hidden_state.numpy().copy()

            if "pytorch" in engines:
                def torch_forward():
                    with torch.inference_mode():
                        model(**t_feeds)

                log(f"pytorch {model_dir.name} seq={seq} batch={batch} threads={threads}")
                with CpuMonitor() as monitor:
                    samples = time_calls(torch_forward, **timing)
                entry["pytorch"] = {**summarize_ms(samples), **monitor.report(),
                                    "num_threads": torch.get_num_threads()}

            if "onnxruntime" in engines:
                session = session_for(threads)
                out = session.run(["last_hidden_state"], feeds)[0]
                max_diff = float(np.abs(out - reference).max())
                if max_diff > 1e-3:
                    log(f"WARNING: ONNX Runtime and PyTorch differ by {max_diff} (max abs)")

                def ort_forward():
                    session.run(None, feeds)

                log(f"onnxruntime {model_dir.name} seq={seq} batch={batch} threads={threads}")
                with CpuMonitor() as monitor:
                    samples = time_calls(ort_forward, **timing)
                entry["onnxruntime"] = {**summarize_ms(samples), **monitor.report(),
                                        "max_abs_diff_vs_pytorch": max_diff}
            results.append(entry)

    if len(results) == 1:
        return {**common, **results[0]}
    return {**common, "results": results}


# ---------------------------------------------------------------------------------------------
# matmul


def parse_shapes(text: str) -> list[tuple[int, int, int]]:
    shapes = []
    for item in text.split(","):
        item = item.strip().lower()
        if not item:
            continue
        parts = item.split("x")
        if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
            raise SystemExit(f"bad shape {item!r}: want MxKxN, e.g. 128x384x384")
        shapes.append(tuple(int(p) for p in parts))
    return shapes


def run_matmul(args) -> dict:
    shape_list = parse_shapes(args.shapes)  # fail here, not in the child
    stripped = [] if args.keep_openblas_env else \
        [k for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ]
    if stripped or os.environ.get("OPENBLAS_NUM_THREADS") != str(args.threads):
        # The BLAS reads these when numpy is imported: measure in a child with a clean environment.
        env = {k: v for k, v in os.environ.items() if k not in stripped}
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
            env[var] = str(args.threads)
        env["BENCH_REFERENCE_MATMUL_CHILD"] = "1"
        argv = [sys.executable, str(Path(__file__).resolve())] + sys.argv[1:]
        log(f"matmul in a child process; removed from its environment: {stripped or 'nothing'}")
        child = subprocess.run(argv, env=env, stdout=subprocess.PIPE, check=True)
        result = json.loads(child.stdout)
        result["openblas_env_removed"] = {k: os.environ[k] for k in stripped}
        return result

    import numpy as np
    import threadpoolctl

    result: dict = {
        "what": "matmul",
        "shape_convention": "MxKxN: (M x K activations) @ (K x N weights); M rows, K in "
                            "features, N out features; flops = 2*M*K*N",
        "dtype": "float32",
        "threads": args.threads,
        "versions": {"numpy": np.__version__, "threadpoolctl": threadpoolctl.__version__},
        "openblas_env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
    }
    target = args.target_seconds
    rng = np.random.default_rng(0)
    shapes = {}
    with threadpoolctl.threadpool_limits(limits=args.threads, user_api="blas"):
        result["blas"] = [
            {k: info.get(k) for k in ("internal_api", "architecture", "num_threads", "version",
                                       "threading_layer", "filepath")}
            for info in threadpoolctl.threadpool_info() if info.get("user_api") == "blas"
        ]
        for m, k, n in shape_list:
            a = rng.standard_normal((m, k), dtype=np.float32)
            b = rng.standard_normal((k, n), dtype=np.float32)
            c = np.empty((m, n), dtype=np.float32)
            flops = 2.0 * m * k * n
            for _ in range(3):
                np.matmul(a, b, out=c)
            # Calls per sample so a sample lasts >= ~1 ms (timer and Python overhead stay small).
            t0 = time.perf_counter()
            probe = 0
            while time.perf_counter() - t0 < 0.02:
                np.matmul(a, b, out=c)
                probe += 1
            per_call = (time.perf_counter() - t0) / probe
            inner = max(1, math.ceil(1e-3 / per_call))
            samples_wanted = max(args.min_repeat, math.ceil(target / (per_call * inner)))
            samples_wanted = min(samples_wanted, 10000)
            samples = []
            gc.disable()
            try:
                monitor = CpuMonitor().__enter__()
                for _ in range(samples_wanted):
                    t0 = time.perf_counter()
                    for _ in range(inner):
                        np.matmul(a, b, out=c)
                    samples.append((time.perf_counter() - t0) / inner)
            finally:
                gc.enable()
                monitor.__exit__(None, None, None)
            shapes[f"{m}x{k}x{n}"] = {
                "gflops_median": round(flops / statistics.median(samples) / 1e9, 2),
                "gflops_best": round(flops / min(samples) / 1e9, 2),
                "median_us": round(statistics.median(samples) * 1e6, 3),
                "calls": samples_wanted * inner,
                **monitor.report(),
            }
            log(f"matmul {m}x{k}x{n}: {shapes[f'{m}x{k}x{n}']['gflops_median']} GFLOP/s median")
    result["shapes"] = shapes
    return result


# ---------------------------------------------------------------------------------------------
# tokenize


def load_tokenizer(location: Path, kind: str, keep_limits: bool):
    from tokenizers import Tokenizer
    from tokenizers.implementations import BertWordPieceTokenizer

    directory = location if location.is_dir() else location.parent
    json_file = location if location.is_file() and location.suffix == ".json" else directory / "tokenizer.json"
    vocab_file = location if location.is_file() and location.suffix == ".txt" else directory / "vocab.txt"
    if kind == "auto":
        kind = "vocab" if location.is_file() and location.suffix == ".txt" else \
            ("json" if json_file.exists() else "vocab")
    facts = {}
    if kind == "json":
        tokenizer = Tokenizer.from_file(str(json_file))
        facts["source"] = str(json_file.resolve())
        facts["class"] = "Tokenizer.from_file"
        facts["file_truncation"] = tokenizer.truncation
        facts["file_padding"] = tokenizer.padding
        if not keep_limits:
            tokenizer.no_truncation()
            tokenizer.no_padding()
        facts["truncation"] = tokenizer.truncation
        facts["padding"] = tokenizer.padding
    else:
        lowercase = True
        config = directory / "tokenizer_config.json"
        if config.exists():
            lowercase = bool(json.loads(config.read_text()).get("do_lower_case", True))
        tokenizer = BertWordPieceTokenizer(str(vocab_file), lowercase=lowercase)
        facts["source"] = str(vocab_file.resolve())
        facts["class"] = "BertWordPieceTokenizer"
        facts["lowercase"] = lowercase
        facts["truncation"] = None
        facts["padding"] = None
    return tokenizer, facts


def run_tokenize(args) -> dict:
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    os.environ["RAYON_NUM_THREADS"] = "1"
    import tokenizers

    tokenizer, facts = load_tokenizer(Path(args.vocab_dir), args.tokenizer, args.keep_truncation_padding)
    raw = Path(args.corpus).read_text(encoding="utf-8")
    # One input per "\n"-separated line (not str.splitlines(), which also splits at U+2028,
    # U+0085, \x1c... that a tokenizer corpus may hold on purpose); empty lines skipped.
    lines = [line.removesuffix("\r") for line in raw.split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        raise SystemExit(f"{args.corpus} has no non-empty line")
    nbytes = sum(len(line.encode("utf-8")) for line in lines)
    target = args.target_seconds

    def one_pass_single():
        total = 0
        for line in lines:
            total += len(tokenizer.encode(line).ids)
        return total

    def one_pass_batch():
        return sum(len(e.ids) for e in tokenizer.encode_batch(lines))

    result: dict = {
        "what": "tokenize",
        "corpus": str(Path(args.corpus).resolve()),
        "lines": len(lines),
        "bytes_utf8": nbytes,
        "tokenizer": facts,
        "add_special_tokens": True,
        "single_threaded": "TOKENIZERS_PARALLELISM=false, RAYON_NUM_THREADS=1",
        "versions": {"tokenizers": tokenizers.__version__},
    }
    for name, fn in (("encode", one_pass_single), ("encode_batch", one_pass_batch)):
        tokens = fn()  # warm-up; also the token count
        t0 = time.perf_counter()
        fn()
        estimate = time.perf_counter() - t0
        passes = args.repeat or min(args.max_repeat, max(args.min_repeat, math.ceil(target / estimate)))
        samples = []
        with CpuMonitor() as monitor:
            for _ in range(passes):
                t0 = time.perf_counter()
                fn()
                samples.append(time.perf_counter() - t0)
        median, best = statistics.median(samples), min(samples)
        result[name] = {
            "lines_per_s": round(len(lines) / median, 1),
            "mb_per_s": round(nbytes / median / 1e6, 3),
            "lines_per_s_best": round(len(lines) / best, 1),
            "mb_per_s_best": round(nbytes / best / 1e6, 3),
            "median_ms_per_pass": round(median * 1e3, 3),
            "passes": passes,
            "tokens_per_pass": tokens,
            **monitor.report(),
        }
        log(f"tokenize {name}: {result[name]['lines_per_s']} lines/s, {result[name]['mb_per_s']} MB/s")
    result["note"] = ("one input per \\n-separated non-empty line; MB = 10^6 bytes of UTF-8 input "
                      "(line breaks excluded); [CLS]/[SEP] added")
    return result


# ---------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--what", required=True, choices=["forward", "matmul", "tokenize"])
    parser.add_argument("--model", help="forward: model directory (config.json + model.safetensors)")
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--configs", help="forward: several SEQxBATCH in one process, e.g. "
                                          "8x1,128x1,512x1,128x8 (instead of --seq/--batch)")
    parser.add_argument("--threads", default="1",
                        help="thread count; forward also takes a list, e.g. 1,2")
    parser.add_argument("--engines", default="pytorch,onnxruntime",
                        help="forward: comma-separated subset of pytorch,onnxruntime")
    parser.add_argument("--onnx-path", help="forward: ONNX file to use/create "
                                            "(default .build-bench/onnx/<model>.onnx)")
    parser.add_argument("--repeat", type=int, help="timed runs (default: adaptive)")
    parser.add_argument("--target-seconds", type=float,
                        help="adaptive timing budget per measurement (forward 1.5, matmul 0.3 per "
                             "shape, tokenize 1.0 per method)")
    parser.add_argument("--min-repeat", type=int, default=5)
    parser.add_argument("--max-repeat", type=int, default=2000)
    parser.add_argument("--warmup-seconds", type=float, default=0.25)
    parser.add_argument("--shapes", default="128x384x384,128x384x1536,128x1536x384,8x128x128,128x128x512",
                        help="matmul: MxKxN list (M rows, K in features, N out features)")
    parser.add_argument("--keep-openblas-env", action="store_true",
                        help="matmul: keep OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE as they are")
    parser.add_argument("--vocab-dir", help="tokenize: directory with tokenizer.json or vocab.txt "
                                            "(or the path of either file)")
    parser.add_argument("--corpus", help="tokenize: UTF-8 text, one input per line")
    parser.add_argument("--tokenizer", choices=["auto", "json", "vocab"], default="auto",
                        help="tokenize: tokenizer.json, vocab.txt (BertWordPieceTokenizer), or auto")
    parser.add_argument("--keep-truncation-padding", action="store_true",
                        help="tokenize: keep tokenizer.json's truncation/padding (off by default)")
    args = parser.parse_args()
    args.target_seconds_given = args.target_seconds is not None
    if args.target_seconds is None:
        args.target_seconds = DEFAULT_TARGET_S[args.what]
    try:
        args.thread_list = [int(t) for t in args.threads.split(",") if t.strip()]
    except ValueError:
        parser.error("--threads wants an integer or a comma-separated list of integers")
    if not args.thread_list or min(args.thread_list) < 1 or args.seq < 1 or args.batch < 1:
        parser.error("--threads, --seq and --batch must be >= 1")
    if args.what != "forward" and len(args.thread_list) > 1:
        parser.error("only --what forward takes a list of thread counts")
    args.threads = args.thread_list[0]

    info = machine_info()
    started = time.perf_counter()
    if args.what == "forward":
        if not args.model:
            parser.error("--what forward needs --model")
        result = run_forward(args)
    elif args.what == "matmul":
        result = run_matmul(args)
        if os.environ.get("BENCH_REFERENCE_MATMUL_CHILD"):
            result["machine"] = info
            print(json.dumps(result))
            return 0
    else:
        if not args.vocab_dir or not args.corpus:
            parser.error("--what tokenize needs --vocab-dir and --corpus")
        result = run_tokenize(args)
    info.setdefault("loadavg_end", [round(x, 2) for x in os.getloadavg()])
    result["machine"] = {**result.get("machine", {}), **info}
    result["wall_s"] = round(time.perf_counter() - started, 2)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
