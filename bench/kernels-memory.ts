// Decode matvec with the weights streamed from memory, on 1 and 2 threads:
// what a big model's token costs, which the 4096x4096 case of kernels.ts
// (weights in cache) does not show.
//
//   npm run bench:kernels -- --memory [--types Q4_K,Q6_K,TQ1_0/plain] [--threads 1,2] [--rounds 40]
//                                      [--variants a.wasm,b.wasm]
//
// Per type, a matrix of ROWS x N in the relaxed module's layout (q4_Kx4,
// q6_Kx4, q4_0x4, q8_0x4, q2_Kx4, q3_Kx4, q5_Kx4, tq1_0x4; TQ2_0 and a build without the
// type's layout: the plain rows), tiled from a few rows quantized by the formats/
// reference; each matvec takes the next ROWS rows of a region of SPAN bytes,
// so no matvec finds its weights in any cache. The threads split the rows as
// the runtime does (mat_rows_<layout>, ith/nth) and spin on a shared counter
// between matvecs. --variants: other builds of kernels-relaxed.wasm, run on
// the same weights and threads, one matvec of each per round, round after
// round (medians): a ratio between builds that a shared machine's drift
// does not skew.
import { Worker, isMainThread, workerData } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { GGMLType, ggmlTypeInfo, rowSize } from '../formats/ggml-types.js';
import { quantizeRow } from '../formats/quant/index.js';
import { median } from '../runtime/bench/format.js';
import { loadKernels, type Kernels, type RowFn } from '../wasm/loader.js';
import { gaussian, mulberry32 } from '../test/helpers/rng.js';

let N = 4096;
let ROWS = 32768;
let SPAN = 640 * 2 ** 20; // bytes of weights per type: more than this machine's L3
const DISTINCT = 16;
const LAYOUTS: Partial<Record<GGMLType, string>> = {
  [GGMLType.Q4_K]: 'q4_Kx4', [GGMLType.Q6_K]: 'q6_Kx4', [GGMLType.Q4_0]: 'q4_0x4', [GGMLType.Q8_0]: 'q8_0x4', [GGMLType.Q2_K]: 'q2_Kx4',
  [GGMLType.Q5_K]: 'q5_Kx4', [GGMLType.Q3_K]: 'q3_Kx4', [GGMLType.TQ1_0]: 'tq1_0x4', [GGMLType.TQ2_0]: 'tq2_0',
};
// ctl words: job sequence, threads done, variant, weight pointer, layout index, nth
const C = { SEQ: 0, DONE: 1, VAR: 2, W: 3, LAYOUT: 4, NTH: 5 } as const;

type MatRows = (w: number, rowBytes: number, a: number, aRowBytes: number, out: number, outStride: number,
                n: number, nTok: number, nRows: number, ith: number, nth: number) => void;

interface Job { layouts: string[]; rowBytes: number[]; act: number[]; out: number }

function instances(base: Kernels, variants: WebAssembly.Module[], memory: WebAssembly.Memory): Promise<Kernels[]> {
  return Promise.all(variants.map((relaxedModule) => loadKernels({ module: base.module, relaxedModule, memory })));
}

async function workerMain(): Promise<void> {
  const d = workerData as { module: WebAssembly.Module; variants: WebAssembly.Module[]; memory: WebAssembly.Memory;
    control: SharedArrayBuffer; ith: number; stackTop: number; job: Job; rows: number; n: number };
  ROWS = d.rows;
  N = d.n;
  const ks = await Promise.all(d.variants.map(async (relaxedModule) => {
    const k = await loadKernels({ module: d.module, relaxedModule, memory: d.memory });
    k.moveStack(d.stackTop);
    return k;
  }));
  const fns = ks.map((k) => d.job.layouts.map((l) => k.lookup<MatRows>(`mat_rows_${l}`)!));
  const ctl = new Int32Array(d.control);
  let seen = 0;
  for (;;) {
    let s: number;
    // spin a while, then sleep: a thread left out of a 1-thread round should not hold a core
    for (let i = 0; (s = Atomics.load(ctl, C.SEQ)) === seen; i++) if (i > 1 << 16) Atomics.wait(ctl, C.SEQ, seen, 50);
    if (s < 0) return;
    seen = s;
    const nth = ctl[C.NTH]!;
    if (d.ith < nth) {
      const li = ctl[C.LAYOUT]!;
      fns[ctl[C.VAR]!]![li]!(ctl[C.W]!, d.job.rowBytes[li]!, d.job.act[li]!, 0, d.job.out, 0, N, 1, ROWS, d.ith, nth);
      Atomics.add(ctl, C.DONE, 1);
    }
  }
}

export async function benchMemory(argv: string[]): Promise<void> {
  const arg = (name: string) => { const i = argv.indexOf(name); return i < 0 ? undefined : argv[i + 1]; };
  // NAME/plain: the type's plain rows even where the build has its layout (the layout's gain on one machine state)
  const picks = (arg('--types') ?? 'Q4_K,Q6_K').toUpperCase().split(',').map((entry) => {
    const [n, how] = entry.split('/');
    const t = Number(Object.keys(LAYOUTS).find((k) => ggmlTypeInfo(Number(k) as GGMLType)!.name.toUpperCase() === n));
    if (Number.isNaN(t) || (how !== undefined && how !== 'PLAIN')) throw new Error(`--types: no repacked layout for ${entry}`);
    return { type: t as GGMLType, plain: how === 'PLAIN' };
  });
  const types = picks.map((p) => p.type);
  const threads = (arg('--threads') ?? '1,2').split(',').map(Number);
  const rounds = Number(arg('--rounds') ?? 30);
  // --rows 4096 --span 0: one matrix used over and over (the weights in cache, for comparison)
  ROWS = Number(arg('--rows') ?? ROWS);
  N = Number(arg('--n') ?? N);  // columns: 14336 is llama-3.1-8b's ffn_down (two activation chunks)
  SPAN = Number(arg('--span') ?? SPAN >> 20) * 2 ** 20;
  const k0 = await loadKernels({ simd: 'relaxed', initialPages: 1024 });
  const variantFiles = arg('--variants')?.split(',');
  const variants = variantFiles ? variantFiles.map((f) => new WebAssembly.Module(readFileSync(f))) : [k0.relaxedModule!];
  const names = variantFiles ?? ['kernels-relaxed.wasm'];
  const mains = await instances(k0, variants, k0.memory);
  const nthMax = Math.max(...threads);

  const rand = mulberry32(0x5eed);
  const x = gaussian(rand, N, 1);
  const job: Job = { layouts: [], rowBytes: [], act: [], out: k0.malloc(ROWS * 4) };
  const regions: { ptr: number; count: number }[] = [];
  for (const { type, plain } of picks) {
    // the plain rows where this build lacks the layout (an earlier build, for before/after)
    const layout = !plain && k0.lookup(`mat_rows_${LAYOUTS[type]!}`) ? LAYOUTS[type]! : ggmlTypeInfo(type)!.name;
    const rb = rowSize(type, N);
    // DISTINCT rows quantized, repacked, then tiled over the region (by kernels-relaxed.wasm: a
    // variant whose layout orders the bytes otherwise, the dot-add build's q2_Kx4, does the same
    // work on them, so its times hold though its sums do not)
    const tile = k0.malloc(DISTINCT * rb);
    const scratch = k0.malloc(4 * rb);
    for (let r = 0; r < DISTINCT; r++) k0.write(tile + r * rb, quantizeRow(type, gaussian(rand, N, 1)));
    k0.lookup<(w: number, rb: number, n: number, s: number) => void>(`repack_${layout}`)?.(tile, rb, DISTINCT, scratch);
    const count = Math.max(1, Math.floor(SPAN / (ROWS * rb)));
    const ptr = k0.malloc(count * ROWS * rb);
    const src = k0.bytes(tile, DISTINCT * rb).slice();
    const dst = k0.bytes(ptr, count * ROWS * rb);
    for (let o = 0; o < dst.length; o += src.length) dst.set(src.subarray(0, Math.min(src.length, dst.length - o)), o);
    const vecType = ggmlTypeInfo(type)!.vecDotType!;
    const act = k0.malloc(rowSize(vecType, N));
    const xp = k0.malloc(N * 4);
    k0.write(xp, x);
    k0.lookup<RowFn>(`quantize_row_${ggmlTypeInfo(vecType)!.name.replace(/^Q/, 'q')}`)!(xp, act, N);
    job.layouts.push(layout);
    job.rowBytes.push(rb);
    job.act.push(act);
    regions.push({ ptr, count });
  }

  const control = new SharedArrayBuffer(64);
  const ctl = new Int32Array(control);
  const workers: Worker[] = [];
  for (let ith = 1; ith < nthMax; ith++) {
    const stack = k0.malloc(512 * 1024);
    workers.push(new Worker(new URL(import.meta.url), {
      workerData: { module: k0.module, variants, memory: k0.memory, control, ith, stackTop: (stack + 512 * 1024) & ~15, job, rows: ROWS, n: N },
    }));
  }
  await new Promise((r) => setTimeout(r, 500));
  const fns = mains.map((k) => job.layouts.map((l) => k.lookup<MatRows>(`mat_rows_${l}`)!));
  let seq = 0;
  const load = (await import('node:os')).loadavg().map((v) => v.toFixed(2)).join(' ');
  console.log(`${ROWS}x${N} decode matvec from memory (${SPAN / 2 ** 20} MiB per type), ${rounds} rounds, load ${load}, Node ${process.versions.node}`);
  // CPU ms per thread (process CPU time / threads): unlike wall time, not counting time the
  // threads were descheduled on a busy machine (but still every stall on memory)
  console.log('| type | threads | build | ms (median) | GB/s | vs first build | CPU ms per thread | vs first build |');
  console.log('|---|---:|---|---:|---:|---:|---:|---:|');
  // one matvec of layout li, build v on nth threads; returns its wall ms and CPU ms per thread
  const run = (li: number, v: number, nth: number, w: number): [number, number] => {
    ctl[C.VAR] = v, ctl[C.W] = w, ctl[C.LAYOUT] = li, ctl[C.NTH] = nth;
    Atomics.store(ctl, C.DONE, 0);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    Atomics.store(ctl, C.SEQ, ++seq);
    if (nth > 1) Atomics.notify(ctl, C.SEQ);
    fns[v]![li]!(w, job.rowBytes[li]!, job.act[li]!, 0, job.out, 0, N, 1, ROWS, 0, nth);
    while (Atomics.load(ctl, C.DONE) < nth - 1) { /* spin */ }
    const ms = performance.now() - t0;
    const c = process.cpuUsage(c0);
    return [ms, (c.user + c.system) / 1000 / nth];
  };
  // Every layout and build on every thread first: a worker's first calls of a function can run
  // before V8's optimized code for it is ready (seen as one type's 2-thread row up to 2x slow).
  for (let li = 0; li < types.length; li++)
    for (let v = 0; v < variants.length; v++)
      for (let i = 0; i < 8; i++) run(li, v, nthMax, regions[li]!.ptr);
  for (let li = 0; li < types.length; li++) {
    const rb = job.rowBytes[li]!;
    const { ptr, count } = regions[li]!;
    for (const nth of threads) {
      const ms: number[][] = variants.map(() => []);
      const cpu: number[][] = variants.map(() => []);
      let next = 0;
      for (let round = 0; round < rounds + 2; round++) {
        for (let v = 0; v < variants.length; v++) {
          const [t, c] = run(li, v, nth, ptr + (next++ % count) * ROWS * rb);
          if (round >= 2) {
            ms[v]!.push(t);
            cpu[v]!.push(c);
          }
        }
      }
      for (let v = 0; v < variants.length; v++) {
        const m = median(ms[v]!);
        // per-round ratio against the first build, then its median: pairs share the machine's state
        const ratio = median(ms[v]!.map((t, i) => ms[0]![i]! / t));
        const cratio = median(cpu[v]!.map((t, i) => cpu[0]![i]! / t));
        console.log(`| ${job.layouts[li]} | ${nth} | ${names[v]!.split('/').pop()} | ${m.toFixed(2)} | ${(ROWS * rb / m / 1e6).toFixed(2)} | ${v === 0 ? '' : ratio.toFixed(3)} | ${median(cpu[v]!).toFixed(2)} | ${v === 0 ? '' : cratio.toFixed(3)} |`);
      }
    }
  }
  Atomics.store(ctl, C.SEQ, -1);
  await Promise.all(workers.map((w) => new Promise((r) => w.once('exit', r))));
}

if (!isMainThread) await workerMain();
else if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) await benchMemory(process.argv.slice(2));
