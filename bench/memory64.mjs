// memory64 against wasm32: the relaxed Q4_K and Q8_0 matmul kernels
// (kernels/relaxed) built both ways with clang-19 and timed on one 4096x4096
// matvec, one thread, alternating builds. memory64 lets one memory pass
// 4 GiB, the alternative to spreading a model over several wasm32 memories
// (runtime/shards.ts); it ships only if it is faster.
//
//   node bench/memory64.mjs            (needs a Node with memory64: 24+; clang-19, wasm-ld-19)
//
// Measured 2026-12-06 on the 2-core EPYC, Node 24.22, two runs (load 3.7, 5.2):
// memory64 / wasm32 = 1.02x / 1.02x (q4_K), 1.07x / 1.09x (q4_Kx4, Q4_K's
// decode layout), 1.15x / 0.89x (q8_0), 0.88x / 1.15x (q8_0x4): Q8_0 within
// the noise, Q4_K consistently a little slower, no win anywhere; and engines
// without memory64 (Node 20/22, Safari) need the sharded build anyway. Not shipped.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'run-gguf-m64-'));
const sources = ['q4_K-relaxed', 'q8_0-relaxed'];

function build(target) {
  const objs = sources.map((f) => {
    const o = join(dir, `${f}-${target}.o`);
    execFileSync('clang-19', [`--target=${target}`, '-O3', '-msimd128', '-mrelaxed-simd', '-matomics', '-mbulk-memory', '-std=c11', '-ffreestanding', '-c', join(root, 'kernels/relaxed', `${f}.c`), '-o', o]);
    return o;
  });
  const out = join(dir, `k-${target}.wasm`);
  // wasm-ld directly: clang's link step runs Debian's older wasm-opt, which cannot read 64-bit tables
  execFileSync('wasm-ld-19', [...(target === 'wasm64' ? ['-mwasm64'] : []), '--no-entry', '--import-memory', '--shared-memory',
    `--max-memory=${target === 'wasm64' ? 2 ** 34 : 2 ** 32}`, '--export-dynamic', '--export=__stack_pointer', ...objs, '-o', out]);
  return readFileSync(out);
}

const n = 4096, rows = 4096, reps = 300;
async function run(target, bytes) {
  const is64 = target === 'wasm64';
  const memory = is64
    ? new WebAssembly.Memory({ address: 'i64', initial: 1024n, maximum: 262144n, shared: true })
    : new WebAssembly.Memory({ initial: 1024, maximum: 65536, shared: true });
  const { instance } = await WebAssembly.instantiate(bytes, { env: { memory } });
  const e = instance.exports;
  const P = (x) => (is64 ? BigInt(x) : x);
  e.__stack_pointer.value = P(1 << 20);
  // constant bytes: normal f16/f32 scales, no denormals; the values do not matter for time
  new Uint8Array(memory.buffer).fill(0x3c, 1 << 21);
  const w = 1 << 21, a = w + 24 * 2 ** 20, out = a + 65536;
  const ms = {};
  for (const [name, rowBytes] of [['q4_K', 2304], ['q4_Kx4', 2304], ['q8_0', 4352], ['q8_0x4', 4352]]) {
    const f = e[`mat_rows_${name}`];
    const call = () => f(P(w), rowBytes, P(a), 0, P(out), 0, n, 1, rows, 0, 1);
    for (let i = 0; i < 20; i++) call();
    const t = [];
    for (let r = 0; r < 5; r++) {
      const t0 = performance.now();
      for (let i = 0; i < reps / 5; i++) call();
      t.push((performance.now() - t0) / (reps / 5));
    }
    ms[name] = t.sort((x, y) => x - y)[2];
  }
  return ms;
}

const builds = { wasm32: build('wasm32'), wasm64: build('wasm64') };
const res = { wasm32: [], wasm64: [] };
for (const target of ['wasm32', 'wasm64', 'wasm32', 'wasm64']) res[target].push(await run(target, builds[target]));
console.log(`Node ${process.version}; median of 5 runs of ${reps / 5} matvecs (4096x4096, one thread), best of 2 rounds`);
for (const name of Object.keys(res.wasm32[0])) {
  const m32 = Math.min(...res.wasm32.map((r) => r[name])), m64 = Math.min(...res.wasm64.map((r) => r[name]));
  console.log(`${name.padEnd(7)} wasm32 ${m32.toFixed(3)} ms  memory64 ${m64.toFixed(3)} ms  memory64/wasm32 ${(m64 / m32).toFixed(2)}x`);
}
