# Shared by the scripts: the repository root, the Python environment and the Swift build flags.
# Source it; it defines variables and functions and runs nothing.

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$REPO_ROOT/.venv"
PYTHON="$VENV/bin/python"
MODELS_DIR="$REPO_ROOT/models"

# CPU-specific code generation for this project's own builds (docs/ARCHITECTURE.md).
# The library target carries no unsafeFlags; the scripts pass the flag on the command line, for
# the CPU of the machine that builds (CI builds and runs on the same machine). Set
# STREAMING_WEIGHTS_CPU=portable for a binary that runs on any x86-64 (SSE2 only, ~4x slower
# matmul), or to a CPU name (e.g. haswell, znver4) to target that CPU.
swift_cpu_flags() {
  case "${STREAMING_WEIGHTS_CPU:-native}" in
    portable) ;;
    *) printf '%s\n' -Xswiftc -target-cpu -Xswiftc "${STREAMING_WEIGHTS_CPU:-native}" ;;
  esac
}

# The release build every script uses, kept apart from the plain `swift build` in .build/.
release_build_flags() {
  printf '%s\n' -c release --scratch-path "$REPO_ROOT/.build-release-${STREAMING_WEIGHTS_CPU:-native}"
  swift_cpu_flags
}

# The command-line tools as shipped: release, for this CPU, with the Swift runtime and
# Foundation linked statically (--static-swift-stdlib), which starts a process about 4 ms sooner
# (a tenth of the time to chunk MiniLM). Used by scripts/bench and scripts/demo.
executable_build_flags() {
  printf '%s\n' -c release --scratch-path "$REPO_ROOT/.build-static-${STREAMING_WEIGHTS_CPU:-native}" --static-swift-stdlib
  swift_cpu_flags
}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
