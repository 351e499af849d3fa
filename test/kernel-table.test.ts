// wasm/kernel-table.ts against the committed builds, and the checks built on
// it: loadKernels refuses a module that differs from the table, a graph phase
// with the wrong argument count fails when it is added, and a weight type
// with no kernels is reported as unsupported (not as a stale build).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile } from 'node:fs/promises';
import { setFlagsFromString } from 'node:v8';
import { GGMLType } from '../formats/ggml-types.js';
import { ModelError, UnsupportedError } from '../runtime/errors.js';
import { Graph } from '../runtime/graph/graph.js';
import { Ops } from '../runtime/graph/ops.js';
import {
  KERNEL_TABLE, KernelArgsError, KernelTableError, RELAXED_EXPORTS, RELAXED_OVERRIDES, checkExports, checkPhaseArgs,
} from '../wasm/kernel-table.js';
import { DEFAULT_WASM_URL, RELAXED_DOT_WASM_NAME, RELAXED_WASM_NAME, loadKernels } from '../wasm/loader.js';

/** name -> parameter count of every function a built module exports, instantiated directly (no loader, no check). */
async function builtExports(file: URL): Promise<Map<string, number>> {
  const bytes = await readFile(file);
  if (!WebAssembly.validate(bytes)) setFlagsFromString('--experimental-wasm-relaxed-simd'); // Node 20, as the loader does
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
  // iq_grids: the relaxed module's one import besides memory (the baseline build's grid tables); never called here
  const { instance } = await WebAssembly.instantiate(bytes, { env: { memory, emscripten_notify_memory_growth: () => {}, iq_grids: () => 0 } });
  return new Map(Object.entries(instance.exports).flatMap(([name, f]) => (typeof f === 'function' ? [[name, f.length]] : [])));
}

const baseline = await builtExports(DEFAULT_WASM_URL);
const relaxed = await builtExports(new URL(RELAXED_WASM_NAME, DEFAULT_WASM_URL));
// instantiated only (no code runs): Node 20 validates it once the flag above is set
const relaxedDot = await builtExports(new URL(RELAXED_DOT_WASM_NAME, DEFAULT_WASM_URL));
const sorted = (names: Iterable<string>) => [...names].sort();
const table = [...KERNEL_TABLE.values()];

test('the table lists every export of kernels.wasm, and only those, with its parameter count', () => {
  const listed = table.filter((s) => s.module === 'baseline');
  assert.equal(sorted(listed.map((s) => s.name)), sorted(baseline.keys()));
  for (const s of listed) assert.is(baseline.get(s.name), s.params.length, `${s.name}: ${s.params.join(', ')}`);
});

test('the table lists every export of kernels-relaxed.wasm, and only those, with its parameter count', () => {
  assert.equal(sorted(RELAXED_EXPORTS), sorted(relaxed.keys()));
  for (const name of RELAXED_EXPORTS) assert.is(relaxed.get(name), KERNEL_TABLE.get(name)!.params.length, name);
});

test('kernels-relaxed-dot.wasm (the dot-add build) exports exactly what kernels-relaxed.wasm does, with the same parameter counts', () => {
  assert.equal(sorted([...relaxedDot].map(([name, n]) => `${name}/${n}`)), sorted([...relaxed].map(([name, n]) => `${name}/${n}`)));
});

test('the relaxed overrides are exactly the relaxed exports that share a baseline name; the rest are relaxed-only', () => {
  assert.equal(sorted(RELAXED_OVERRIDES), sorted([...relaxed.keys()].filter((n) => baseline.has(n))));
  assert.equal(
    sorted(table.filter((s) => s.module === 'relaxed').map((s) => s.name)),
    sorted([...relaxed.keys()].filter((n) => !baseline.has(n))));
  for (const name of RELAXED_OVERRIDES) assert.is(KERNEL_TABLE.get(name)!.module, 'baseline', `${name} is a baseline kernel`);
});

test('op kernels end with ith, nth; helpers and the runtime do not take them', () => {
  for (const s of table) {
    const threaded = s.params.at(-2) === 'ith' && s.params.at(-1) === 'nth';
    assert.is(threaded, s.kind === 'op', `${s.name} (${s.kind}): ${s.params.join(', ')}`);
  }
  assert.equal(KERNEL_TABLE.get('rms_norm_f32')!.params, ['x', 'y', 'w', 'n_rows', 'n', 'eps', 'ith', 'nth']);
  assert.is(KERNEL_TABLE.get('malloc')!.kind, 'runtime');
  assert.is(KERNEL_TABLE.get('matvec_q4_0')!.kind, 'helper');
});

/** A function of `n` parameters, as a WebAssembly export reports them (.length). */
const fnOfArity = (n: number) => Object.defineProperty(() => undefined, 'length', { value: n });
const fakeExports = (names: Iterable<string>): Record<string, unknown> =>
  Object.fromEntries([...names].map((name) => [name, fnOfArity(KERNEL_TABLE.get(name)!.params.length)]));
const thrown = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
};

test('checkExports accepts exports that match the table, and refuses a wrong arity naming kernel, counts and the fix', () => {
  const good = fakeExports(baseline.keys());
  checkExports(good, 'baseline', 'fake.wasm');
  checkExports(fakeExports(RELAXED_EXPORTS), 'relaxed', 'fake-relaxed.wasm');

  const e = thrown(() => checkExports({ ...good, rms_norm_f32: fnOfArity(7) }, 'baseline', 'fake.wasm'));
  assert.instance(e, KernelTableError);
  const err = e as KernelTableError;
  assert.equal(err.mismatches, [{ kernel: 'rms_norm_f32', expected: 8, actual: 7 }]);
  assert.match(err.message, 'fake.wasm');
  assert.match(err.message, 'rms_norm_f32 takes 7 parameters, the table expects 8 (x, y, w, n_rows, n, eps, ith, nth)');
  assert.match(err.message, 'npm run build:wasm');
});

test('checkExports reports a missing export and one the table lacks', () => {
  const exports = fakeExports(baseline.keys());
  delete exports.matvec_f32;
  exports.frobnicate_f32 = fnOfArity(3);
  const err = thrown(() => checkExports(exports, 'baseline', 'fake.wasm')) as KernelTableError;
  assert.instance(err, KernelTableError);
  assert.equal(err.mismatches, [
    { kernel: 'matvec_f32', expected: 7, actual: null },
    { kernel: 'frobnicate_f32', expected: null, actual: 3 },
  ]);
  assert.match(err.message, 'matvec_f32 is missing');
  assert.match(err.message, 'frobnicate_f32 (3 parameters) is exported but not listed');
});

test('a relaxed export of a baseline name not in RELAXED_OVERRIDES is refused, and so is a listed override missing', () => {
  const exports = fakeExports(RELAXED_EXPORTS);
  exports.rms_norm_f32 = fnOfArity(8);
  delete exports.matvec_q4_K;
  const err = thrown(() => checkExports(exports, 'relaxed', 'fake-relaxed.wasm')) as KernelTableError;
  assert.instance(err, KernelTableError);
  assert.equal(err.mismatches.map((m) => m.kernel), ['matvec_q4_K', 'rms_norm_f32']);
  assert.match(err.message, 'rms_norm_f32 (8 parameters) would replace the baseline kernel, which RELAXED_OVERRIDES does not list');
  // a baseline-only build may not carry the relaxed module's own kernels either
  const base = fakeExports(baseline.keys());
  base.repack_q4_0x4 = fnOfArity(4);
  assert.match((thrown(() => checkExports(base, 'baseline', 'fake.wasm')) as Error).message, 'repack_q4_0x4 (4 parameters) is exported but not listed for the baseline module');
});

/** The smallest module exporting one function of `arity` i32 parameters under `name` (no imports, no memory). */
function oneFunctionModule(name: string, arity: number): Uint8Array<ArrayBuffer> {
  const section = (id: number, body: number[]) => [id, body.length, ...body];
  const nameBytes = [...new TextEncoder().encode(name)];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, arity, ...Array<number>(arity).fill(0x7f), 0]), // type: (i32 x arity) -> ()
    ...section(3, [1, 0]), // one function of type 0
    ...section(7, [1, nameBytes.length, ...nameBytes, 0x00, 0]), // exported as `name`
    ...section(10, [1, 2, 0, 0x0b]), // body: no locals, end
  ]);
}

test('loadKernels refuses a module whose export has the wrong arity', async () => {
  const module = await WebAssembly.compile(oneFunctionModule('rms_norm_f32', 2));
  let error: unknown = null;
  await loadKernels({ module, relaxedModule: null }).catch((e: unknown) => (error = e));
  assert.instance(error, KernelTableError);
  const err = error as KernelTableError;
  assert.ok(err.mismatches.some((m) => m.kernel === 'rms_norm_f32' && m.expected === 8 && m.actual === 2));
  assert.match(err.message, 'rms_norm_f32 takes 2 parameters, the table expects 8');
  assert.match(err.message, 'malloc is missing');
  assert.match(err.message, 'npm run build:wasm');
});

test('loadKernels takes the listed overrides from the relaxed module and nothing else', async () => {
  if (process.env.RUN_GGUF_SIMD === 'baseline') return;
  const k = await loadKernels();
  assert.is(k.simd, 'relaxed');
  const base = await loadKernels({ module: k.module, memory: k.memory, relaxedModule: null });
  for (const name of RELAXED_OVERRIDES) assert.ok(k.lookup(name) !== undefined && base.lookup(name) !== undefined, name);
  for (const s of table.filter((t) => t.module === 'relaxed')) {
    assert.type(k.lookup(s.name), 'function', `${s.name} with relaxed SIMD`);
    assert.is(base.lookup(s.name), undefined, `${s.name} on baseline`);
  }
});

const kernels = await loadKernels();

test('a phase one argument short throws when the op is added, naming the op, the kernel and its parameters', () => {
  const g = new Graph();
  const x = g.tensor({ name: 'x', type: GGMLType.F32, ne: [8, 2], kind: 'input', ptr: 64 });
  const out = g.f32('normed', [8, 2]);
  const e = thrown(() => g.add({
    name: 'attn_norm-3', inputs: [x], output: out,
    phases: [{ fn: 'rms_norm_f32', args: [{ tensor: x }, { tensor: out }, 0, 2, 8] }], // eps left out
  }));
  assert.instance(e, KernelArgsError);
  assert.instance(e, RangeError);
  const err = e as KernelArgsError;
  assert.is(err.op, 'attn_norm-3');
  assert.is(err.kernel, 'rms_norm_f32');
  assert.is(err.got, 5);
  assert.equal(err.expected, ['x', 'y', 'w', 'n_rows', 'n', 'eps', 'ith', 'nth']);
  assert.match(err.message, 'attn_norm-3: rms_norm_f32 takes 8 (x, y, w, n_rows, n, eps, ith, nth); the phase gives 5 arguments + ith, nth = 7');
  assert.is(g.ops.length, 0, 'the op was not added');
  // the same phase with eps is accepted
  g.add({ name: 'attn_norm-3', inputs: [x], output: out, phases: [{ fn: 'rms_norm_f32', args: [{ tensor: x }, { tensor: out }, 0, 2, 8, 1e-5] }] });
  assert.is(g.ops.length, 1);
});

test('a phase one argument long, a helper kernel as a phase, and an unknown kernel are refused too', () => {
  assert.throws(() => checkPhaseArgs('op', 'silu_f32', 4), (e: unknown) => e instanceof KernelArgsError && /silu_f32 takes 5/.test(e.message));
  assert.throws(() => checkPhaseArgs('op', 'matvec_f32', 5), (e: unknown) => e instanceof KernelArgsError && /helper kernel/.test(e.message));
  assert.throws(() => checkPhaseArgs('op', 'no_such_f32', 3), (e: unknown) => e instanceof KernelArgsError && /no kernel no_such_f32/.test(e.message));
  checkPhaseArgs('op', 'silu_f32', 3);
  checkPhaseArgs('op', 'mat_rows_q4_0x4', 9);
});

test('a weight type with no kernels (Q8_1, never a weight in practice) is an UnsupportedError naming the tensor and its type, not "rebuild"', () => {
  const g = new Graph();
  const ops = new Ops(g, kernels);
  // never run: the error comes while the graph is built
  const embd = g.tensor({ name: 'token_embd.weight', type: GGMLType.Q8_1, ne: [256, 10], kind: 'weight', ptr: 64 });
  const w = g.tensor({ name: 'blk.0.ffn_up.weight', type: GGMLType.Q8_1, ne: [256, 4], kind: 'weight', ptr: 64 });
  const ids = g.tensor({ name: 'ids', type: GGMLType.I32, ne: [3], kind: 'input', ptr: 64 });
  const x = g.tensor({ name: 'x', type: GGMLType.F32, ne: [256, 3], kind: 'input', ptr: 64 });
  for (const [tensor, build] of [[embd, () => ops.getRows(embd, ids)], [w, () => ops.matmul(w, x, 'ffn_up')]] as const) {
    const e = thrown(build);
    assert.instance(e, UnsupportedError);
    assert.instance(e, ModelError);
    const err = e as UnsupportedError;
    assert.is(err.tensor, tensor.name);
    assert.is(err.type, 'Q8_1');
    assert.match(err.message, `${tensor.name} is Q8_1, a weight type run-gguf does not support`);
    assert.match(err.message, 'Q4_K');
    assert.not.match(err.message, /rebuild/i);
  }
});

test.run();
