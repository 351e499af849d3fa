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

# The relaxed-SIMD module: kernels/relaxed/*.c, built with Debian's clang-19
# (emcc 3.1.6's clang 14 predates relaxed SIMD's final opcodes). It has no
# libc and must have no data: it is a second module instantiated on the same
# memory, and any static would land on addresses the first module owns. Each
# instance's stack pointer is exported so the loader can point it at the
# stack the calling thread already has (the two modules never nest calls).
# Where the engine validates the module, the loader replaces the baseline
# exports listed in wasm/kernel-table.ts (RELAXED_OVERRIDES) with these; any
# other export of a baseline name is refused at load.
CLANG=${CLANG_RELAXED:-clang-19}
if ! command -v "$CLANG" >/dev/null 2>&1; then
  echo "build.sh: $CLANG not found (Debian: apt-get install clang-19 lld-19)" >&2
  exit 1
fi
mapfile -t relaxed < <(LC_ALL=C ls kernels/relaxed/*.c | LC_ALL=C sort)
# clang runs binaryen's wasm-opt after linking when it finds one on PATH;
# Debian's (version 108) rejects i8x16.relaxed_swizzle's final opcode, and
# the output should not depend on whether binaryen is installed. So the
# link sees only clang's own directory (where wasm-ld is).
llvm_bin=$(dirname "$(readlink -f "$(command -v "$CLANG")")")
relaxed_cflags=(--target=wasm32 -O3 -msimd128 -mrelaxed-simd -matomics -mbulk-memory
  -std=c11 -Wall -Wextra -ffreestanding -nostdlib -g0 -ffile-prefix-map="$PWD"=.)
relaxed_ldflags=(-fuse-ld=lld -nostdlib -Wl,--no-entry -Wl,--import-memory -Wl,--shared-memory -Wl,--max-memory=4294967296
  -Wl,--export=__stack_pointer -Wl,--strip-all)
no_data() {
  if "${OBJDUMP:-llvm-objdump-19}" -h "$1" | grep -qE ' (DATA|DATACOUNT|START) '; then
    echo "build.sh: kernels/relaxed/ must not define static data (the module shares memory it does not own)" >&2
    exit 1
  fi
}
env PATH="$llvm_bin" "$CLANG" "${relaxed_cflags[@]}" "${relaxed_ldflags[@]}" \
  "${relaxed[@]}" \
  -o "$out_dir/kernels-relaxed.wasm"
no_data "$out_dir/kernels-relaxed.wasm"
mv "$out_dir/kernels-relaxed.wasm" wasm/kernels-relaxed.wasm
echo "built wasm/kernels-relaxed.wasm ($(wc -c < wasm/kernels-relaxed.wasm) bytes) from ${relaxed[*]}"

# The dot-add module: the same sources with RELAXED_DOT_ADD (relaxed.h), which
# use i32x4.relaxed_dot_i8x16_i7x16_add_s in the hot integer dots. Same
# exports as kernels-relaxed.wasm; the loader takes it instead where the
# engine runs that instruction fast (wasm/loader.ts). Through assembly:
# clang 19 writing objects directly mis-encodes that instruction (a stray
# `drop`, which V8 refuses), while its assembler encodes the .s text right.
dot_objs=()
for src in "${relaxed[@]}"; do
  base=$(basename "$src" .c)
  env PATH="$llvm_bin" "$CLANG" "${relaxed_cflags[@]}" -DRELAXED_DOT_ADD -S "$src" -o "$out_dir/$base.s"
  env PATH="$llvm_bin" "$CLANG" --target=wasm32 -mrelaxed-simd -msimd128 -matomics -mbulk-memory \
    -c "$out_dir/$base.s" -o "$out_dir/$base.o"
  dot_objs+=("$out_dir/$base.o")
done
env PATH="$llvm_bin" "$CLANG" --target=wasm32 "${relaxed_ldflags[@]}" "${dot_objs[@]}" -o "$out_dir/kernels-relaxed-dot.wasm"
no_data "$out_dir/kernels-relaxed-dot.wasm"
mv "$out_dir/kernels-relaxed-dot.wasm" wasm/kernels-relaxed-dot.wasm
echo "built wasm/kernels-relaxed-dot.wasm ($(wc -c < wasm/kernels-relaxed-dot.wasm) bytes) from the same sources with -DRELAXED_DOT_ADD"
