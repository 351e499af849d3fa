// wasm/loader.ts: one module on one shared memory, usable from several
// instances (the later worker pool), with views that follow memory growth.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { DEFAULT_WASM_URL, MAX_PAGES, MIN_PAGES, PAGE_BYTES, loadKernels } from '../wasm/loader.js';

test('loads the committed build onto a shared memory', async () => {
  const k = await loadKernels();
  assert.is(Object.prototype.toString.call(k.memory.buffer), '[object SharedArrayBuffer]', 'memory is shared');
  assert.is(k.memory.buffer.byteLength, MIN_PAGES * PAGE_BYTES);
  assert.type(k.exports.matvec_q4_0, 'function');
  assert.type(k.lookup('matvec_q8_0'), 'function');
  assert.is(k.lookup('no_such_kernel'), undefined);
});

test('the declared minimum memory is exactly MIN_PAGES', async () => {
  const module = await WebAssembly.compile(await readFile(DEFAULT_WASM_URL));
  const small = new WebAssembly.Memory({ initial: MIN_PAGES - 1, maximum: MAX_PAGES, shared: true });
  let error: unknown = null;
  await loadKernels({ module, memory: small }).catch((e: unknown) => (error = e));
  assert.instance(error, WebAssembly.LinkError, 'a memory below the declared minimum is refused');
  const exact = new WebAssembly.Memory({ initial: MIN_PAGES, maximum: MAX_PAGES, shared: true });
  const k = await loadKernels({ module, memory: exact });
  assert.is(k.memory, exact);
});

test('a second instance on the same memory shares its data and its heap', async () => {
  const a = await loadKernels();
  const p = a.malloc(1000);
  a.bytes(p, 1000).fill(0xab);
  const b = await loadKernels({ module: a.module, memory: a.memory });
  assert.is(b.memory, a.memory);
  assert.is(b.module, a.module);
  // instantiating again must not re-run the data initialisation (it would reset the heap)
  assert.ok(b.bytes(p, 1000).every((v) => v === 0xab), 'data written through the first instance is seen by the second');
  const q = b.malloc(1000);
  assert.ok(q >= p + 1000 || q + 1000 <= p, 'the second instance allocates from the same heap');
  b.free(q);
  a.free(p);
  const c = await loadKernels();
  assert.is.not(c.memory, a.memory);
});

test('malloc and free', async () => {
  const k = await loadKernels();
  const p = k.malloc(100);
  assert.ok(p > 0 && p % 8 === 0, `8-aligned pointer, got ${p}`);
  const q = k.malloc(100);
  assert.ok(q >= p + 100 || q + 100 <= p, 'blocks do not overlap');
  k.free(p);
  k.free(q);
  // a freed block is reused, so repeated alloc/free does not grow memory
  k.free(k.malloc(1 << 20));
  const grownOnce = k.memory.buffer.byteLength;
  for (let i = 0; i < 50; i++) k.free(k.malloc(1 << 20));
  assert.is(k.memory.buffer.byteLength, grownOnce);
  // past one allocation's limit (2^31 - 1): refused before it reaches wasm
  assert.throws(() => k.malloc(0xfffffff0), /cannot allocate/);
});

test('views are remade after the memory grows', async () => {
  const k = await loadKernels();
  const v1 = k.f32();
  assert.is(k.f32(), v1, 'same view while the memory has not grown');
  const big = k.malloc(64 << 20); // larger than the initial memory: forces growth
  assert.ok(k.memory.buffer.byteLength > v1.byteLength, 'memory grew');
  assert.is(v1.byteLength, MIN_PAGES * PAGE_BYTES, 'an old view keeps its old length (stale)');
  const v2 = k.f32();
  assert.is.not(v2, v1);
  assert.is(v2.byteLength, k.memory.buffer.byteLength);
  const last = (big >> 2) + (64 << 18) - 1;
  v2[last] = 1.5;
  assert.is(k.floats(big, 64 << 18)[(64 << 18) - 1], 1.5);
  for (const view of [k.u8(), k.i8(), k.u16(), k.i32()]) assert.is(view.byteLength, k.memory.buffer.byteLength);
  k.free(big);
});

test('a non-file URL is fetched (the browser path), here a data: URL', async () => {
  const bytes = await readFile(DEFAULT_WASM_URL);
  const url = `data:application/wasm;base64,${bytes.toString('base64')}`;
  const k = await loadKernels({ url });
  const p = k.malloc(64 * 4);
  const q = k.malloc(64 * 4);
  k.floats(p, 64).fill(2);
  k.floats(q, 64).fill(0.25);
  assert.is(k.exports.vec_dot_f32_f32(64, p, q), 32);
});

test('relaxed SIMD: used on Node (the loader sets V8\'s flag), refused on request, and on the same stack as the baseline', async () => {
  if (process.env.RUN_GGUF_SIMD === 'baseline') {
    console.log('  (RUN_GGUF_SIMD=baseline: the relaxed module is not loaded in this run)');
    return;
  }
  const relaxed = await loadKernels();
  assert.is(relaxed.simd, 'relaxed', 'Node 20+ runs the relaxed-SIMD module');
  assert.ok(relaxed.relaxedModule, 'the compiled relaxed module is kept for workers');
  const baseline = await loadKernels({ simd: 'baseline' });
  assert.is(baseline.simd, 'baseline');
  assert.is.not(relaxed.exports.matvec_q4_0, baseline.exports.matvec_q4_0, 'the relaxed kernel replaces the baseline one');
  // a worker-style instance on the same memory with its stack moved: both modules use the new region
  const w = await loadKernels({ module: relaxed.module, relaxedModule: relaxed.relaxedModule, memory: relaxed.memory });
  const stack = relaxed.malloc(1 << 20);
  w.moveStack(stack + (1 << 20));
  assert.is(w.exports.stackSave(), stack + (1 << 20));
});

test('relaxed SIMD without flags: V8 ships it from Node 22, so a fresh process validates the module as it is', () => {
  // a child, because this process may already have set the flag (the loader does on Node 20)
  const script = `
    const { readFileSync } = require('node:fs');
    const bytes = readFileSync(process.argv[1]);
    const before = WebAssembly.validate(bytes);
    import(process.argv[2]).then(async ({ loadKernels }) => {
      const k = await loadKernels();
      console.log(JSON.stringify({ before, simd: k.simd }));
    });`;
  const res = spawnSync(process.execPath, ['-e', script, new URL('kernels-relaxed.wasm', DEFAULT_WASM_URL).pathname,
    new URL('../wasm/loader.js', import.meta.url).href], { encoding: 'utf8', env: { ...process.env, RUN_GGUF_SIMD: '' } });
  assert.is(res.status, 0, res.stderr);
  const { before, simd } = JSON.parse(res.stdout.trim()) as { before: boolean; simd: string };
  const major = Number(process.versions.node.split('.')[0]);
  console.log(`  (node ${process.versions.node}: relaxed module valid without flags: ${before}; the loader picks ${simd})`);
  if (major >= 22) assert.ok(before, `node ${process.versions.node} validates relaxed SIMD without --experimental-wasm-relaxed-simd`);
  else assert.not.ok(before, 'Node 20 needs the flag (the loader sets it)');
  assert.is(simd, 'relaxed', 'the loader picks relaxed SIMD either way');
});

test.run();
