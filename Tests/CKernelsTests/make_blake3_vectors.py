#!/usr/bin/env python3
"""Writes the expected digests blake3_tests.c checks against, from the reference implementation.

Usage: make_blake3_vectors.py OUTPUT

One line per input length, lengths increasing: "LENGTH HEXDIGEST", the BLAKE3 digest (32 bytes)
from the Python blake3 package (the official Rust implementation) of the official test vectors'
input: byte i is i % 251. When b3sum is installed, a few of the digests are also checked against
it, a second reference. Needs `pip install blake3`.
"""

import os
import shutil
import subprocess
import sys
import tempfile

import blake3

# Around blocks (64 bytes), chunks (1024), and trees of two, three, four and more chunks; around
# the hasher's buffer of 16 chunks, one and two of them, with a last chunk whole or partial; a
# 31-chunk tree; past 64 KiB; a mebibyte with and without a partial last chunk; and 43 MB, about
# the size of a small model's weights file, a tree 16 levels deep.
LENGTHS = [
    0, 1, 63, 64, 65, 1023, 1024, 1025, 2047, 2048, 2049, 3072, 4096, 8191, 8192, 8193, 16383, 16384,
    16385, 17408, 31744, 32767, 32768, 32769, 33792, 65536 + 1, 1 << 20, (1 << 20) + 17, 43 * 1000 * 1000,
]

# The lengths also hashed by b3sum.
B3SUM_LENGTHS = [0, 1025, 8193, 16385, (1 << 20) + 17]


def pattern(length):
    return bytes(range(251)) * (length // 251) + bytes(range(length % 251))


def b3sum_digest(data):
    with tempfile.NamedTemporaryFile() as file:
        file.write(data)
        file.flush()
        output = subprocess.run(["b3sum", "--no-names", file.name], check=True, capture_output=True, text=True)
    return output.stdout.strip()


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    longest = pattern(max(LENGTHS))
    digests = {length: blake3.blake3(longest[:length], max_threads=1).hexdigest() for length in LENGTHS}
    if shutil.which("b3sum"):
        for length in B3SUM_LENGTHS:
            other = b3sum_digest(longest[:length])
            if other != digests[length]:
                sys.exit(f"b3sum and the blake3 package disagree on {length} bytes: {other} {digests[length]}")
        print(f"b3sum agrees on lengths {B3SUM_LENGTHS}", file=sys.stderr)
    with open(sys.argv[1], "w") as output:
        for length in LENGTHS:
            output.write(f"{length} {digests[length]}\n")
    print(f"wrote {len(LENGTHS)} digests to {os.path.abspath(sys.argv[1])}", file=sys.stderr)


if __name__ == "__main__":
    main()
