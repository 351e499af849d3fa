// Kernel benchmark: one 4096x4096 matvec per weight type (--rows for more rows), one thread.
//
//   npm run bench:kernels            about a minute
//   npm run bench:kernels -- --quick a few seconds (or BENCH_QUICK=1)
//   npm run bench:kernels -- --prefill   prefill instead (see benchPrefill; with --repacked,
//                                   --cpu and --old DIR as below, builds alternating per round)
//   npm run bench:kernels -- --prefill --dot [--repacked]   prefill of the relaxed module against its
//                                   dot-add build (kernels-relaxed-dot.wasm) on the same weights,
//                                   alternating, CPU time (see benchPrefillDot)
//   npm run bench:kernels -- --prefill --dot --old DIR   DIR's dot-add build against this one's, the same way
//   npm run bench:kernels -- --prefill --repacked --cpu --old DIR --ratios [--rounds N]   only the batched
//                                   kernel, each round's time of every build against this build's in that
//                                   round, median and quartiles of those ratios (20 rounds)
//   npm run bench:kernels -- --prefill --cols 14336   weight rows of that many columns (default 4096)
//   npm run bench:kernels -- --prefill --tokens 4   a batch of that many tokens (default 64)
//   npm run bench:kernels -- --types Q4_0,Q4_K   only these weight types
//   npm run bench:kernels -- --alternate  one matvec of each type per round,
//                                   round after round (medians): ratios
//                                   that a shared machine's drift does not skew
//   npm run bench:kernels -- --attention  decode attention over a deep KV cache (see benchAttention)
//   npm run bench:kernels -- --alternate --cpu   times in process CPU time (a busy machine
//                                   preempts runs of 10+ ms: wall time counts other jobs' turns)
//   npm run bench:kernels -- --rows 32768   more weight rows (4096 x 4096 fits a large L3: 32768 rows
//                                   of Q8_0 are 142 MB, read from memory)
//   npm run bench:kernels -- --repacked   the layouts decode reads after load (runtime/repack.ts:
//                                   repack_<type>x4, then matvec_<type>x4) where the build has them
//   npm run bench:kernels -- --repacked --plain-too   each repacked type's plain rows too (with
//                                   --alternate: the layout against the file's rows on one build, which
//                                   --old cannot do once the layout is new: an old build lacks its exports)
//   npm run bench:kernels -- --memory     decode with the weights streamed from memory, 1 and 2
//                                   threads, builds compared (see kernels-memory.ts)
//   npm run bench:kernels -- --alternate --old DIR[,DIR...]   also DIR/kernels.wasm (and the relaxed
//                                   module beside it: a copy of an earlier build), each type's old and
//                                   new matvecs alternating in the rounds, rows marked (DIR's name)
//
// Every type with a matvec_<type> export in wasm/kernels.wasm is measured
// (k-quants appear as soon as kernels/kquants.c exports them). The weights
// are rows quantized by the formats/ reference quantizer, tiled to 4096
// (or --rows) rows; the activation is quantized to the type's vecDotType once, outside
// the timing, as the runtime does once per matmul.
//
// Columns: bits per weight; median ms per matvec (tinybench); GB/s of
// weight bytes streamed; time per weight relative to Q4_0; and the speedup
// over the plain-JS path (formats/ reference: dequantize each weight row to
// f32, then dot in JS), timed on a subset of rows and scaled per weight.
// The machine may be shared: run twice and keep the better when it matters.
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Bench } from 'tinybench';
import { GGMLType, allGGMLTypes, ggmlTypeInfo, rowSize } from '../formats/ggml-types.js';
import { dequantizeOnlyTypes, dequantizeRow, quantizeRow } from '../formats/quant/index.js';
import { median } from '../runtime/bench/format.js';
import { WEIGHT_TYPES } from '../wasm/kernel-table.js';
import { loadKernels, type Kernels, type MatvecFn, type RowFn } from '../wasm/loader.js';
import { gaussian, mulberry32 } from '../test/helpers/rng.js';
import { benchMemory } from './kernels-memory.js';

const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const prefill = process.argv.includes('--prefill');
const alternate = process.argv.includes('--alternate');
const attention = process.argv.includes('--attention');
const repacked = process.argv.includes('--repacked');
const plainToo = process.argv.includes('--plain-too');
const cpu = process.argv.includes('--cpu');
const rowsArg = process.argv.indexOf('--rows');
const oldArg = process.argv.indexOf('--old');
const OLD_DIRS = oldArg < 0 ? [] : process.argv[oldArg + 1]!.split(',');
if (OLD_DIRS.length > 0 && !alternate && !prefill) throw new Error('--old compares builds in alternating rounds: add --alternate (or --prefill)');
const colsArg = process.argv.indexOf('--cols');
const N = colsArg < 0 ? 4096 : Number(process.argv[colsArg + 1]);
if (!Number.isInteger(N) || N <= 0 || N % 256 !== 0) throw new Error(`--cols: a positive multiple of 256, not ${process.argv[colsArg + 1]}`);
const ratios = process.argv.includes('--ratios');
const roundsArg = process.argv.indexOf('--rounds');
const PREFILL_ROUNDS = roundsArg < 0 ? (ratios ? 20 : 12) : Number(process.argv[roundsArg + 1]);
if (!Number.isInteger(PREFILL_ROUNDS) || PREFILL_ROUNDS <= 0) throw new Error(`--rounds: a positive integer, not ${process.argv[roundsArg + 1]}`);
const ROWS = rowsArg < 0 ? 4096 : Number(process.argv[rowsArg + 1]);
if (!Number.isInteger(ROWS) || ROWS <= 0 || ROWS % 4 !== 0) throw new Error(`--rows: a positive multiple of 4, not ${process.argv[rowsArg + 1]}`);
const DISTINCT_ROWS = 16; // quantized by the (slow) reference, then tiled
const SIMD_MS = quick ? 150 : 1000; // tinybench time budget per type
const SCALAR_MS = quick ? 60 : 400; // plain-JS rows are timed for about this long

// the weight types the build has kernels for (wasm/kernel-table.ts), in its order
const ALL_TYPES: readonly GGMLType[] = WEIGHT_TYPES.map((name) => allGGMLTypes().find((t) => t.name === name)!.id);
const typesArg = process.argv.indexOf('--types');
const TYPES = typesArg < 0 ? ALL_TYPES : ALL_TYPES.filter((t) =>
  process.argv[typesArg + 1]!.toUpperCase().split(',').includes(ggmlTypeInfo(t)!.name.toUpperCase()));

interface Row {
  type: string;
  bitsPerWeight: number;
  ms: number;
  gbps: number;
  scalarMs: number;
}

/**
 * Bytes of one row of `type`: raw f32 for F32, the reference quantizer
 * otherwise, and for the types we only dequantize (the grid i-quants) random
 * blocks with a small finite f16 scale: every other bit pattern is a valid
 * block of theirs, and the kernels' speed does not depend on the values.
 */
function encodeRow(type: GGMLType, x: Float32Array): Uint8Array {
  if (type === GGMLType.F32) return new Uint8Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
  if (dequantizeOnlyTypes().includes(type)) {
    const { typeSize, blockSize } = ggmlTypeInfo(type)!;
    const b = new Uint8Array((x.length / blockSize) * typeSize);
    for (let i = 0; i < b.length; i++) b[i] = (Math.abs(x[i % x.length]!) * 1e6) & 0xff;
    // the f16 scale (iq1_m keeps its top bits in the last scale byte's high nibble): exponent kept small
    for (let o = 0; o < b.length; o += typeSize) {
      if (type === GGMLType.IQ1_M) b[o + typeSize - 1]! &= 0x3f;
      else b[o + 1]! &= 0x23;
    }
    return b;
  }
  return quantizeRow(type, x);
}

/** The activation in `aType`, with the WASM quantizer/converter when there is one (same bytes as the reference). */
function encodeActivation(k: Kernels, aType: GGMLType, x: Float32Array): Uint8Array {
  const name = ggmlTypeInfo(aType)!.name;
  const fn = k.lookup<RowFn>(aType === GGMLType.F16 || aType === GGMLType.BF16 ? `convert_row_f32_to_${name}` : `quantize_row_${name}`);
  if (!fn) return encodeRow(aType, x);
  const px = k.malloc(x.byteLength);
  const py = k.malloc(rowSize(aType, x.length));
  k.write(px, x);
  fn(px, py, x.length);
  const out = k.bytes(py, rowSize(aType, x.length)).slice();
  k.free(px);
  k.free(py);
  return out;
}

/** ms per full matvec on the plain-JS path, from rows timed for about SCALAR_MS. */
function scalarMatvecMs(type: GGMLType, rows: Uint8Array[], x: Float32Array): number {
  let sink = 0;
  let done = 0;
  const t0 = performance.now();
  while (done < 4 || performance.now() - t0 < SCALAR_MS) {
    const bytes = rows[done % rows.length]!;
    const w = type === GGMLType.F32 ? new Float32Array(bytes.buffer.slice(0)) : dequantizeRow(type, bytes, N);
    let s = 0;
    for (let i = 0; i < N; i++) s += w[i]! * x[i]!;
    sink += s;
    done++;
  }
  const perRow = (performance.now() - t0) / done;
  if (Number.isNaN(sink)) console.log('(nan in the scalar path)');
  return perRow * ROWS;
}

function scalarOrNaN(type: GGMLType, rows: Uint8Array[], x: Float32Array): number {
  try {
    return scalarMatvecMs(type, rows, x);
  } catch (e) {
    console.log(`${ggmlTypeInfo(type)!.name}: no plain-JS path (${(e as Error).message})`);
    return Number.NaN;
  }
}

/** --repacked: the four-row layout where this build has one (the relaxed module's). */
function repackedLayout(k: Kernels, name: string): string | undefined {
  return repacked && k.lookup(`repack_${name}x4`) && k.lookup(`matvec_${name}x4`) ? `${name}x4` : undefined;
}

/**
 * ROWS weight rows in the kernels' memory, the distinct rows tiled, then repacked in place into
 * `layout` when it is not the file's (as a loaded model's weights are). Returns the pointer.
 */
function placeWeights(k: Kernels, rows: readonly Uint8Array[], rowBytes: number, layout: string, fileLayout: string): number {
  const pw = k.malloc(rowBytes * ROWS);
  for (let r = 0; r < ROWS; r++) k.write(pw + r * rowBytes, rows[r % rows.length]!);
  if (layout !== fileLayout) {
    const scratch = k.malloc(4 * rowBytes);
    k.lookup<(w: number, rowBytes: number, nRows: number, scratch: number) => void>(`repack_${layout}`)!(pw, rowBytes, ROWS, scratch);
    k.free(scratch);
  }
  return pw;
}

async function benchType(k: Kernels, type: GGMLType, x: Float32Array, rand: () => number, tag = '', plain = false): Promise<Row | Prepared | string> {
  const info = ggmlTypeInfo(type)!;
  const layout = (!plain && repackedLayout(k, info.name)) || info.name;
  const matvec = k.lookup<MatvecFn>(`matvec_${layout}`);
  if (!matvec) return `${info.name}: no matvec_${info.name} export yet`;
  const aType = info.vecDotType!;

  let rows: Uint8Array[];
  let act: Uint8Array;
  try {
    rows = Array.from({ length: DISTINCT_ROWS }, () => encodeRow(type, gaussian(rand, N, 0.02)));
    act = encodeActivation(k, aType, x);
  } catch (e) {
    return `${info.name}: no reference quantizer (${(e as Error).message})`;
  }
  const rowBytes = rowSize(type, N);
  const pw = placeWeights(k, rows, rowBytes, layout, info.name);
  const pa = k.malloc(act.length);
  const po = k.malloc(ROWS * 4);
  k.write(pa, act);
  const run = () => matvec(pw, rowBytes, pa, po, N, 0, ROWS);
  const row = (ms: number): Row => ({
    type: (layout === info.name ? info.name.toUpperCase() : `${info.name.toUpperCase()} (${layout})`) + tag,
    bitsPerWeight: (info.typeSize * 8) / info.blockSize,
    ms,
    gbps: (rowBytes * ROWS) / (ms * 1e6),
    scalarMs: alternate ? Number.NaN : scalarOrNaN(type, rows, x),
  });
  const free = () => [pw, pa, po].forEach((p) => k.free(p));
  if (alternate) return { run, row, free };

  const bench = new Bench({ time: SIMD_MS, warmupTime: quick ? 50 : 250, iterations: quick ? 8 : 32 });
  bench.add(info.name, run);
  await bench.run();
  const result = bench.tasks[0]!.result;
  free();
  if (!('latency' in result)) return `${info.name}: benchmark failed (${result.state})`;
  return row(result.latency.p50 ?? result.latency.mean);
}

/** A type set up for --alternate: one matvec, and its table row from a time. */
interface Prepared {
  run: () => void;
  row: (ms: number) => Row;
  free: () => void;
}

/** --alternate: every type's matvec once per round, rounds for SIMD_MS per type in all, medians. */
function alternateRounds(prepared: Prepared[]): Row[] {
  const times = prepared.map(() => [] as number[]);
  for (const p of prepared) p.run();
  const t0 = performance.now();
  while (performance.now() - t0 < SIMD_MS * prepared.length || times[0]!.length < 5) {
    prepared.forEach((p, i) => {
      if (cpu) {
        const c = process.cpuUsage();
        p.run();
        const d = process.cpuUsage(c);
        times[i]!.push((d.user + d.system) / 1000);
      } else {
        const s = performance.now();
        p.run();
        times[i]!.push(performance.now() - s);
      }
    });
  }
  const rows = prepared.map((p, i) => p.row(median(times[i]!)));
  prepared.forEach((p) => p.free());
  return rows;
}

// ---------------------------------------------------------------------------
// Prefill: a 4096x4096 weight times PREFILL_TOKENS activation rows, as
// mul_mat_<t> (one call, weight blocks reused across a tile of tokens) and as
// matvec_<t> once per token (what a prompt costs without it). Both give the
// same bits, checked here too. Times are the minimum over rounds that
// alternate the two, which is what survives a machine shared with other jobs.

/** mul_mat_<t>(w, rowBytes, a, aRowBytes, out, outStride (floats), n, nTok, r0, r1). */
type MulMatFn = (w: number, rowBytes: number, a: number, aRowBytes: number, out: number, outStride: number,
  n: number, nTok: number, r0: number, r1: number) => void;

const tokensArg = process.argv.indexOf('--tokens');
const PREFILL_TOKENS = tokensArg < 0 ? 64 : Number(process.argv[tokensArg + 1]);
if (!Number.isInteger(PREFILL_TOKENS) || PREFILL_TOKENS < 2) throw new Error(`--tokens: an integer from 2, not ${process.argv[tokensArg + 1]}`);

interface PrefillRow {
  type: string;
  matvecUs: number; // per token
  mulMatUs: number; // per token
  identical: boolean;
}

/** One type's prefill set up in one build: both runs, and the check that they agree. */
interface PrefillSetup { tag: string; perToken: () => void; batched: () => void; identical: () => boolean; free: () => void }

function setupPrefill(k: Kernels, type: GGMLType, rows: Uint8Array[], acts: Uint8Array[], tag: string): PrefillSetup | string {
  const info = ggmlTypeInfo(type)!;
  // --repacked: the four-row layout (runtime/repack.ts), as a loaded model's matmuls read it
  const layout = repacked && k.lookup(`repack_${info.name}x4`) && k.lookup(`mul_mat_${info.name}x4`) ? `${info.name}x4` : info.name;
  const matvec = k.lookup<MatvecFn>(`matvec_${layout}`);
  const mulMat = k.lookup<MulMatFn>(`mul_mat_${layout}`);
  if (!matvec || !mulMat) return `${info.name}: no matvec_/mul_mat_${layout} export`;
  const rowBytes = rowSize(type, N);
  const aRowBytes = rowSize(info.vecDotType!, N);
  const pw = placeWeights(k, rows, rowBytes, layout, info.name);
  const pa = k.malloc(aRowBytes * PREFILL_TOKENS);
  for (let t = 0; t < PREFILL_TOKENS; t++) k.write(pa + t * aRowBytes, acts[t]!);
  const outBytes = ROWS * PREFILL_TOKENS * 4;
  const po1 = k.malloc(outBytes);
  const po2 = k.malloc(outBytes);
  return {
    tag: layout === info.name ? tag : ` (${layout})${tag}`,
    perToken: () => {
      for (let t = 0; t < PREFILL_TOKENS; t++) matvec(pw, rowBytes, pa + t * aRowBytes, po1 + t * ROWS * 4, N, 0, ROWS);
    },
    batched: () => mulMat(pw, rowBytes, pa, aRowBytes, po2, ROWS, N, PREFILL_TOKENS, 0, ROWS),
    identical: () => {
      const a = new Uint32Array(k.u8().buffer, po1, ROWS * PREFILL_TOKENS);
      const b = new Uint32Array(k.u8().buffer, po2, ROWS * PREFILL_TOKENS);
      return a.every((v, i) => v === b[i]);
    },
    free: () => { for (const p of [pw, pa, po1, po2]) k.free(p); },
  };
}

// One type in every build (--old DIRs first): the same weights and tokens,
// the builds' runs alternating within each round; minimum over rounds, in
// wall time or (--cpu) process CPU time.
function benchPrefillType(builds: [Kernels, string][], type: GGMLType, rand: () => number): PrefillRow[] | string {
  const info = ggmlTypeInfo(type)!;
  let rows: Uint8Array[];
  try {
    rows = Array.from({ length: DISTINCT_ROWS }, () => encodeRow(type, gaussian(rand, N, 0.02)));
  } catch (e) {
    return `${info.name}: no reference quantizer (${(e as Error).message})`;
  }
  const k0 = builds[builds.length - 1]![0];
  const acts = Array.from({ length: PREFILL_TOKENS }, () => encodeActivation(k0, info.vecDotType!, gaussian(rand, N, 1)));
  const setups: PrefillSetup[] = [];
  for (const [k, tag] of builds) {
    const s = setupPrefill(k, type, rows, acts, tag);
    if (typeof s === 'string') return s;
    setups.push(s);
  }
  const time = (f: () => void) => {
    if (cpu) {
      const c0 = process.cpuUsage();
      f();
      const c = process.cpuUsage(c0);
      return (c.user + c.system) / 1000;
    }
    const t0 = performance.now();
    f();
    return performance.now() - t0;
  };
  for (const s of setups) s.perToken(), s.batched();
  const best = setups.map(() => [Infinity, Infinity]);
  const perRound: number[][] = setups.map(() => []);
  for (let round = 0; round < (quick ? 3 : PREFILL_ROUNDS); round++) {
    // builds in turn, the order reversed every other round (a build's place in a round changes no ratio)
    const order = round % 2 ? [...setups.keys()].reverse() : [...setups.keys()];
    for (const i of order) {
      const s = setups[i]!;
      if (!ratios) best[i]![0] = Math.min(best[i]![0]!, time(s.perToken));
      const tb = time(s.batched);
      perRound[i]!.push(tb);
      best[i]![1] = Math.min(best[i]![1]!, tb);
    }
  }
  if (ratios) {
    // each build's speed against this build's in the same round: the machine's drift cancels
    const mine = perRound[perRound.length - 1]!;
    const at = (a: number[], q: number) => [...a].sort((x, y) => x - y)[Math.floor(q * (a.length - 1))]!;
    setups.forEach((s, i) => {
      const r = perRound[i]!.map((t, k) => mine[k]! / t);
      console.log(`${info.name.toUpperCase()}${s.tag}: speed against this build ${at(r, 0.5).toFixed(3)}x (quartiles ${at(r, 0.25).toFixed(3)}, ${at(r, 0.75).toFixed(3)}; ${r.length} rounds), median ${at(perRound[i]!, 0.5).toFixed(2)} ms`);
    });
  }
  return setups.map((s, i) => {
    const identical = s.identical();
    s.free();
    return {
      type: `${info.name.toUpperCase()}${s.tag}`,
      matvecUs: (best[i]![0]! * 1000) / PREFILL_TOKENS,
      mulMatUs: (best[i]![1]! * 1000) / PREFILL_TOKENS,
      identical,
    };
  });
}

async function benchPrefill(builds: [Kernels, string][]): Promise<void> {
  const rand = mulberry32(0x9f11);
  console.log(`${N}x${ROWS} weight x ${PREFILL_TOKENS} tokens, one thread, ${quick ? 'quick' : 'full'} run${cpu ? ', CPU time' : ''}${repacked ? ', repacked layouts' : ''}, Node ${process.versions.node}`);
  const rows: PrefillRow[] = [];
  for (const type of TYPES) {
    const r = benchPrefillType(builds, type, rand);
    if (typeof r === 'string') console.log(`skipped ${r}`);
    else rows.push(...r);
  }
  const gw = (us: number) => ((N * ROWS) / (us * 1000)).toFixed(1); // weight x token products per ns
  console.log('');
  console.log('| type | matvec us/token | mul_mat us/token | speedup | matvec G w*tok/s | mul_mat G w*tok/s | bit-identical |');
  console.log('|---|---:|---:|---:|---:|---:|---|');
  for (const r of rows) {
    // --ratios times no matvec
    const mv = (f: () => string) => (Number.isFinite(r.matvecUs) ? f() : '-');
    console.log(`| ${r.type} | ${mv(() => r.matvecUs.toFixed(0))} | ${r.mulMatUs.toFixed(0)} | ${mv(() => `${(r.matvecUs / r.mulMatUs).toFixed(2)}x`)} | ${mv(() => gw(r.matvecUs))} | ${gw(r.mulMatUs)} | ${r.identical ? 'yes' : 'NO'} |`);
  }
}

/**
 * --prefill --dot: mul_mat_<layout> (x4 with --repacked) of kernels-relaxed.wasm
 * and of kernels-relaxed-dot.wasm on the same memory, weights and tokens,
 * one call of each per round, round after round, in process CPU time
 * (medians): the ratio a shared machine's drift does not skew. The outputs
 * must be bit-identical (they are the same integer sums and float steps).
 * With --old DIR: DIR's dot-add build against this one's, the same way.
 */
async function benchPrefillDot(): Promise<void> {
  const old = OLD_DIRS[0];
  const k = old ? await loadKernels({ url: pathToFileURL(`${old}/kernels.wasm`), simd: 'relaxed-dot', initialPages: 1024 })
    : await loadKernels({ simd: 'relaxed', initialPages: 1024 });
  const kd = await loadKernels({ simd: 'relaxed-dot', module: k.module, memory: k.memory });
  const names = old ? [`relaxed-dot (${basename(old)})`, 'relaxed-dot'] : ['relaxed', 'relaxed-dot'];
  const rand = mulberry32(0x9f11);
  const rounds = quick ? 5 : 21;
  console.log(`${N}x${ROWS} weight x ${PREFILL_TOKENS} tokens, one thread, ${names[0]} vs ${names[1]}, ${rounds} alternating rounds, CPU time (medians), Node ${process.versions.node}`);
  console.log('');
  console.log(`| layout | ${names[0]} us/token | ${names[1]} us/token | speedup | bit-identical |`);
  console.log('|---|---:|---:|---:|---|');
  for (const type of TYPES) {
    const info = ggmlTypeInfo(type)!;
    const layout = repacked && k.lookup(`repack_${info.name}x4`) ? `${info.name}x4` : info.name;
    const f = k.lookup<MulMatFn>(`mul_mat_${layout}`), fd = kd.lookup<MulMatFn>(`mul_mat_${layout}`);
    if (!f || !fd) {
      console.log(`skipped ${layout}: no mul_mat_${layout}`);
      continue;
    }
    const aType = info.vecDotType!;
    const rows = Array.from({ length: DISTINCT_ROWS }, () => encodeRow(type, gaussian(rand, N, 0.02)));
    const rowBytes = rowSize(type, N), aRowBytes = rowSize(aType, N);
    // each build repacks its own copy: a layout is the module's (the dot-add build's q2_Kx4 is its own)
    const pws = [k, kd].map((m) => placeWeights(m, rows, rowBytes, layout, info.name));
    const pa = k.malloc(aRowBytes * PREFILL_TOKENS);
    for (let t = 0; t < PREFILL_TOKENS; t++) k.write(pa + t * aRowBytes, encodeActivation(k, aType, gaussian(rand, N, 1)));
    const po = [k.malloc(ROWS * PREFILL_TOKENS * 4), k.malloc(ROWS * PREFILL_TOKENS * 4)];
    const fns = [f, fd];
    const times: number[][] = [[], []];
    for (let round = -1; round < rounds; round++) {
      fns.forEach((fn, i) => {
        const c = process.cpuUsage();
        fn(pws[i]!, rowBytes, pa, aRowBytes, po[i]!, ROWS, N, PREFILL_TOKENS, 0, ROWS);
        const d = process.cpuUsage(c);
        if (round >= 0) times[i]!.push((d.user + d.system) / PREFILL_TOKENS);
      });
    }
    const a = new Uint32Array(k.u8().buffer, po[0]!, ROWS * PREFILL_TOKENS);
    const b = new Uint32Array(k.u8().buffer, po[1]!, ROWS * PREFILL_TOKENS);
    const identical = a.every((v, i) => v === b[i]);
    for (const p of [...pws, pa, ...po]) k.free(p);
    const [m0, m1] = [median(times[0]!), median(times[1]!)];
    console.log(`| ${layout} | ${m0.toFixed(0)} | ${m1.toFixed(0)} | ${(m0 / m1).toFixed(2)}x | ${identical ? 'yes' : 'NO'} |`);
  }
}

type AttentionFn = (...args: number[]) => void;

/**
 * One layer of decode attention with TinyLlama's heads (32 query heads, 4 kv
 * heads of 64) over 512..4096 cached cells, per K/V cache type, one thread.
 * Cache rows are gaussian values stored by the reference quantizer (random
 * bit patterns would hold f16 subnormals, whose conversion is far slower).
 * Timed in process CPU time (the machine may be busy; wall time is not ours).
 */
function benchAttention(k: Kernels): void {
  const nHead = 32, nHeadKv = 4, hd = 64, tile = 256;
  const fn = k.lookup<AttentionFn>('attention_kv')!;
  const wsize = k.lookup<(...a: number[]) => number>('attention_kv_wsize')!(nHead, nHeadKv, hd, hd, tile);
  const rand = mulberry32(0xa77e);
  console.log(`decode attention, ${nHead} heads / ${nHeadKv} kv heads of ${hd}, tiles of ${tile}, one thread, Node ${process.versions.node}`);
  console.log('');
  console.log('| cells | K | V | ms/layer (CPU) | ns per cell and head |');
  console.log('|---:|---|---|---:|---:|');
  for (const nKv of quick ? [2048] : [512, 2048, 4096]) {
    for (const [tk, tv] of [[GGMLType.F16, GGMLType.F16], [GGMLType.Q8_0, GGMLType.F16], [GGMLType.Q8_0, GGMLType.Q8_0]] as const) {
      const cache = (type: GGMLType) => {
        const rb = rowSize(type, hd), p = k.malloc(rb * nHeadKv * nKv);
        for (let r = 0; r < nHeadKv * nKv; r++) k.write(p + r * rb, quantizeRow(type, gaussian(rand, hd, 1)));
        return p;
      };
      const pk = cache(tk), pv = cache(tv);
      const pq = k.malloc(nHead * hd * 4), po = k.malloc(nHead * hd * 4), pw = k.malloc(wsize + 16);
      k.write(pq, gaussian(rand, nHead * hd, 1));
      const ppos = k.malloc(4), pkv = k.malloc(8);
      k.write(ppos, new Int32Array([nKv - 1]));
      k.write(pkv, new Int32Array([0, nKv]));
      const types = (tk === GGMLType.Q8_0 ? 1 : 0) | (tv === GGMLType.Q8_0 ? 2 : 0);
      const run = () => fn(pq, pk, pv, po, ppos, pkv, 1, nHead, nHeadKv, hd, hd, hd, nHead * hd, nKv, 0.125, 0, 0, 0, 0, types, tile, (pw + 15) & ~15, 0, 1);
      run();
      let best = Infinity;
      for (let round = 0; round < (quick ? 5 : 20); round++) {
        const t0 = process.cpuUsage();
        for (let i = 0; i < 5; i++) run();
        const d = process.cpuUsage(t0);
        best = Math.min(best, (d.user + d.system) / 5000);
      }
      for (const p of [pk, pv, pq, po, pw, ppos, pkv]) k.free(p);
      const name = (t: GGMLType) => ggmlTypeInfo(t)!.name.toLowerCase();
      console.log(`| ${nKv} | ${name(tk)} | ${name(tv)} | ${best.toFixed(3)} | ${((best * 1e6) / (nKv * nHead)).toFixed(1)} |`);
    }
  }
}

async function main(): Promise<void> {
  if (process.argv.includes('--memory')) {
    await benchMemory(process.argv.slice(2));
    return;
  }
  if (prefill && process.argv.includes('--dot')) {
    await benchPrefillDot();
    return;
  }
  const k = await loadKernels();
  const builds: [Kernels, string][] = [];
  for (const dir of OLD_DIRS) builds.push([await loadKernels({ url: pathToFileURL(`${dir}/kernels.wasm`) }), ` (${basename(dir)})`]);
  builds.push([k, '']);
  if (attention) {
    benchAttention(k);
    return;
  }
  if (prefill) {
    await benchPrefill(builds);
    return;
  }
  const rand = mulberry32(0x5eed);
  const x = gaussian(rand, N, 1);
  console.log(`${N}x${ROWS} matvec, one thread, ${quick ? 'quick' : 'full'} run${alternate ? `, types alternating${cpu ? ', CPU time' : ''}` : ''}${repacked ? ', repacked layouts' : ''}, Node ${process.versions.node}`);

  let rows: Row[] = [];
  const prepared: Prepared[] = [];
  for (const type of TYPES) {
    for (const [kk, tag] of builds) {
      const plains = plainToo && repackedLayout(kk, ggmlTypeInfo(type)!.name) ? [true, false] : [false];
      for (const plain of plains) {
        const r = await benchType(kk, type, x, mulberry32(0x5eed + type), tag, plain);
        if (typeof r === 'string') console.log(`skipped ${r}`);
        else if ('run' in r) prepared.push(r);
        else rows.push(r);
      }
    }
  }
  if (alternate) rows = alternateRounds(prepared);
  const fmt = (v: number, d: number) => v.toFixed(d);
  // issue 15's targets are per weight relative to Q4_K (i-quants) and Q4_0 (MXFP4); every type here has the same shape
  const rel = (name: string) => {
    const ref = rows.find((r) => r.type.split(' ')[0] === name);
    return (r: Row) => (ref ? fmt(r.ms / ref.ms, 2) : 'n/a');
  };
  const vsQ4_0 = rel('Q4_0');
  const vsQ4_K = rel('Q4_K');
  console.log('');
  console.log(`SIMD: ${k.simd}${k.dotAdd ? ' (dot-add build)' : ''}`);
  console.log('| type | bits/weight | ms/matvec (median) | GB/s of weights | time/weight vs Q4_0 | vs Q4_K | SIMD/scalar |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.type} | ${fmt(r.bitsPerWeight, 2)} | ${fmt(r.ms, 3)} | ${fmt(r.gbps, 2)} | ${vsQ4_0(r)} | ${vsQ4_K(r)} | ${Number.isNaN(r.scalarMs) ? 'n/a' : `${fmt(r.scalarMs / r.ms, 1)}x`} |`);
  }
}

await main();
