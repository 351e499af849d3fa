#!/usr/bin/env bash
# Builds wasm/kernels.wasm from every kernels/*.c with Debian's emcc (3.1.6).
#
# The output is committed and CI rebuilds it in a fresh clone elsewhere and
# compares bytes, so the build must not depend on where the repository is:
# we compile from the repository root with relative paths, without debug
# info, and map any absolute path that might slip in to ".".
#
# Thread-ready from the start (DESIGN.md): the module imports a SHARED memory
# (env.memory, max 4 GiB) so that later every worker instantiates the same
# module on the same memory. Each instance has its own stack pointer global;
# workers move theirs with stackRestore. malloc (dlmalloc) is exported for
# the main thread only: it is not thread safe in this build, and the kernels
# never call it (their scratch lives on the stack).
set -euo pipefail
cd "$(dirname "$0")/.."

EMCC=${EMCC:-emcc}
if ! command -v "$EMCC" >/dev/null 2>&1; then
  echo "build.sh: emcc not found (Debian: apt-get install emscripten)" >&2
  exit 1
fi

# Sorted so the link order (and so the bytes) never depends on the file system.
out_dir=$(mktemp -d)
trap 'rm -rf "$out_dir"' EXIT

mapfile -t sources < <(LC_ALL=C ls kernels/*.c | LC_ALL=C sort)

"$EMCC" \
  -O3 -msimd128 -matomics -mbulk-memory \
  -std=c11 -Wall -Wextra \
  -g0 -ffile-prefix-map="$PWD"=. \
  --no-entry \
  -sIMPORTED_MEMORY -sALLOW_MEMORY_GROWTH -sMAXIMUM_MEMORY=4GB -Wl,--shared-memory \
  -sTOTAL_STACK=1MB -sINITIAL_MEMORY=4MB \
  -sEXPORTED_FUNCTIONS=_malloc,_free \
  "${sources[@]}" \
  -o "$out_dir/kernels.wasm"

mv "$out_dir/kernels.wasm" wasm/kernels.wasm
echo "built wasm/kernels.wasm ($(wc -c < wasm/kernels.wasm) bytes) from ${sources[*]}"
