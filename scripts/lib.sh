# Shared by the scripts: the repository root, the Python environment and the Swift build flags.
# Source it; it defines variables and functions and runs nothing.

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$REPO_ROOT/.venv"
PYTHON="$VENV/bin/python"
MODELS_DIR="$REPO_ROOT/models"

# The builds the scripts make are plain release builds, as a user's `swift build -c release` or a
# package depending on this one gets: the compute kernels are chosen at run time from the CPU's
# features (docs/ARCHITECTURE.md), so no CPU flag is needed for speed. STREAMING_WEIGHTS_CPU=native
# (or an LLVM CPU name such as haswell or znver4) adds `-target-cpu` for the Swift code, in a
# scratch directory of its own; scripts/bench builds that too, to show it gains nothing.
swift_cpu_flags() {
  case "${STREAMING_WEIGHTS_CPU:-plain}" in
    plain) ;;
    *) printf '%s\n' -Xswiftc -target-cpu -Xswiftc "$STREAMING_WEIGHTS_CPU" ;;
  esac
}

# The release build every script uses, kept apart from the plain `swift build` in .build/.
release_build_flags() {
  printf '%s\n' -c release --scratch-path "$REPO_ROOT/.build-release-${STREAMING_WEIGHTS_CPU:-plain}"
  swift_cpu_flags
}

# The command-line tools as shipped: release, with the Swift runtime and Foundation linked
# statically (--static-swift-stdlib), which starts a process about 4 ms sooner (a tenth of the
# time to chunk MiniLM). Used by scripts/bench and scripts/demo.
executable_build_flags() {
  printf '%s\n' -c release --scratch-path "$REPO_ROOT/.build-static-${STREAMING_WEIGHTS_CPU:-plain}" --static-swift-stdlib
  swift_cpu_flags
}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
