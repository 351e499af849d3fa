#!/usr/bin/env bash
# Builds native llama-bench, the peer of `npm run bench:compare`, from the
# llama.cpp source node-llama-cpp ships (its git bundle), with Debian's cmake
# and g++ for this machine's CPU (-DGGML_NATIVE=ON). Outside the repository:
#   scripts/build-llama-bench.sh [--no-amx] [DIR]     (default ~/.cache/run-gguf/llama.cpp)
# then: LLAMA_BENCH=DIR/build/bin/llama-bench npm run bench:compare -- ...
# --no-amx: for a CPU that lists AMX but whose VM or kernel does not let
# programs use it (-march=native then turns on ggml's AMX matmuls, and
# llama-bench dies with SIGSEGV in ggml_backend_amx_mul_mat).
set -euo pipefail
flags=""
if [ "${1:-}" = "--no-amx" ]; then flags="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"; shift; fi
repo="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/run-gguf/llama.cpp}"
bundle="$repo/node_modules/node-llama-cpp/llama/gitRelease.bundle"
[ -f "$bundle" ] || { echo "no $bundle: run npm install first" >&2; exit 1; }
case "$dir/" in "$repo"/*) echo "build outside the repository, not in $dir" >&2; exit 1;; esac
command -v cmake >/dev/null && command -v g++ >/dev/null || { echo "needs cmake and g++ (apt-get install cmake g++)" >&2; exit 1; }
[ -d "$dir/.git" ] || git clone -q "$bundle" "$dir"
cmake -S "$dir" -B "$dir/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF "-DCMAKE_C_FLAGS=$flags" "-DCMAKE_CXX_FLAGS=$flags" >/dev/null
cmake --build "$dir/build" --target llama-bench -j "$(nproc)"
echo "built $dir/build/bin/llama-bench"
