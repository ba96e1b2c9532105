#!/usr/bin/env python3
"""A client written like the Python tool's StreamingBertModel._fetch_weights, for the compatibility tests.

Usage: python -m streaming_weights_testing.legacy_client URL REQUEST [REQUEST ...]

For each REQUEST (`GET LAYER 0`, `GET embeddings 0` ...) it connects with `websockets`, sends the
text, reads one answer, and, as the old client did, decodes the hex `weights` and loads them with
torch.load. It prints one JSON line per request on stdout: {"request", "success", "component",
"sha256" of the decoded bytes, "size", "tensors": {name: [shape]}} or {"request", "success": false,
"error"}.
"""

import asyncio
import hashlib
import io
import json
import sys

import torch
import websockets


async def fetch(url: str, request: str) -> dict:
    # The old client kept websockets' 1 MiB message limit, which is why it failed on anything larger
    # than bert-mini; max_size=None lifts it.
    async with websockets.connect(url, ping_interval=20, ping_timeout=10, max_size=None) as ws:
        await ws.send(request)
        data = json.loads(await ws.recv())
    if not data.get("success"):
        return {"request": request, "success": False, "error": data.get("error")}
    weights = bytes.fromhex(data["weights"])
    state = torch.load(io.BytesIO(weights), map_location="cpu")
    return {"request": request, "success": True, "component": data.get("component"),
            "sha256": hashlib.sha256(weights).hexdigest(), "size": len(weights),
            "tensors": {name: list(tensor.shape) for name, tensor in state.items()}}


async def main() -> int:
    url, requests = sys.argv[1], sys.argv[2:]
    for request in requests:
        print(json.dumps(await fetch(url, request)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
