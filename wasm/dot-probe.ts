// Whether this engine runs i32x4.relaxed_dot_i8x16_i7x16_add_s fast, for the
// loader's choice of wasm/kernels-relaxed-dot.wasm (kernels/relaxed/relaxed.h).
//
// The instruction is one vpdpbusd where V8 finds AVX-VNNI; elsewhere V8 lowers
// it to pmaddubsw + pmaddwd + paddd, the same work as the relaxed module's
// i16 path, and the dot-add kernels then lose (they multiply by the scales in
// i32). WebAssembly cannot ask for CPU features, so a tiny module (built
// here, 400 bytes, its own 1-page memory) times a loop of dot-adds against
// the same sums through i16x8.relaxed_dot + i32x4.dot_i16x8 + i32x4.add, and
// both loops must return the same sum.

/** The dot-add loop must run at least this much faster than the i16 one. */
export const DOT_PROBE_MIN_SPEEDUP = 1.5;

export interface DotProbe {
  /** Whether the dot-add kernels should be used here. */
  readonly fast: boolean;
  /** i16 loop time / dot-add loop time (best of the rounds); NaN when it did not run. */
  readonly speedup: number;
  /** Why not, or what was measured. */
  readonly reason: string;
}

const leb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const section = (id: number, body: number[]) => [id, ...leb(body.length), ...body];

// body of f(n): w0..w3 = the 0..127 vectors at 4096 + 16k; for i in 0..n-1 (at
// least once), p = (i & 31) * 128, eight accumulators acc_k = step(load(p +
// 16k), w_(k % 4), acc_k): one load per dot, as the kernels' broadcast
// activations against weights held in registers. Returns lanes 0 + 3 of their sum.
function probeBody(step: (acc: number, w: number) => number[]): number[] {
  const I = 1, P = 2, W = 3, ACC = 7; // locals: n (param), i, p, w0..w3, acc0..acc7
  const code: number[] = [];
  for (let k = 0; k < 4; k++) code.push(0x41, 0, 0xfd, 0x00, 4, ...leb(4096 + 16 * k), 0x21, W + k);
  code.push(0x03, 0x40);
  code.push(0x20, I, 0x41, 31, 0x71, 0x41, 7, 0x74, 0x21, P);
  for (let k = 0; k < 8; k++) {
    code.push(0x20, P, 0xfd, 0x00, 4, ...leb(16 * k)); // v128.load offset=16k
    code.push(...step(ACC + k, W + (k % 4)));
  }
  code.push(0x20, I, 0x41, 1, 0x6a, 0x22, I, 0x20, 0, 0x49, 0x0d, 0x00, 0x0b); // i++ < n: br_if 0; end
  code.push(0x20, ACC); // the sum of the accumulators
  for (let k = 1; k < 8; k++) code.push(0x20, ACC + k, 0xfd, 0xae, 0x01);
  code.push(0x22, ACC, 0xfd, 0x1b, 0, 0x20, ACC, 0xfd, 0x1b, 3, 0x6a, 0x0b);
  const body = [2, 2, 0x7f, 12, 0x7b, ...code]; // locals: 2 i32, 12 v128
  return [...leb(body.length), ...body];
}

/** The probe module's bytes: exports m (memory), d (dot-add loop), s (i16 loop). */
export function dotProbeBytes(): Uint8Array<ArrayBuffer> {
  // acc = i32x4.relaxed_dot_i8x16_i7x16_add_s(a, b, acc)
  const dot = probeBody((acc, w) => [0x20, w, 0x20, acc, 0xfd, 0x93, 0x02, 0x21, acc]);
  // acc = i32x4.add(i32x4.dot_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(a, b), splat(1)), acc)
  const ones = Array.from({ length: 8 }, () => [1, 0]).flat();
  const i16 = probeBody((acc, w) => [0x20, w, 0xfd, 0x92, 0x02, 0xfd, 0x0c, ...ones, 0xfd, 0xba, 0x01, 0x20, acc, 0xfd, 0xae, 0x01, 0x21, acc]);
  const name = (s: string) => [s.length, ...[...s].map((c) => c.charCodeAt(0))];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 1, 0x7f, 1, 0x7f]),
    ...section(3, [2, 0, 0]),
    ...section(5, [1, 0, 1]),
    ...section(7, [3, ...name('m'), 2, 0, ...name('d'), 0, 0, ...name('s'), 0, 1]),
    ...section(10, [2, ...dot, ...i16]),
  ]);
}

const ITERS = 20000; // per call: some 30-100 us with TurboFan's code
const ROUNDS = 12;
/** The rounds go on for at least this long (ms). */
const PROBE_MS = 30;

/**
 * Times the two loops in alternating calls (the first calls run V8's first
 * tier; later ones its optimised code once tier-up lands), keeping each
 * loop's best call, for PROBE_MS. Tier-up compiles in the background, and on
 * a busy machine one loop may get its optimised code rounds before the other:
 * a probe of twelve rounds (about 4 ms) chose the i16 build on this VNNI
 * machine in 1 of 5 fresh Node 24 processes (the dot-add loop still in the
 * first tier: 0.88x), and one that stopped at the first round found fast took
 * the dot-add build with AVX-VNNI turned off on a loaded machine (1.64x,
 * before the i16 loop's tier-up). With both loops' best over 30 ms (Node 24,
 * this machine, 4 fresh processes each): 2.37-2.38x with AVX-VNNI, 0.84x with
 * it turned off; Node 22 (V8 12.4 lowers the instruction to three) 0.55x.
 */
export function probeDotAdd(): DotProbe {
  const bytes = dotProbeBytes();
  if (!WebAssembly.validate(bytes)) return { fast: false, speedup: NaN, reason: 'the engine does not validate i32x4.relaxed_dot_i8x16_i7x16_add_s' };
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes));
  const { m, d, s } = inst.exports as { m: WebAssembly.Memory; d: (n: number) => number; s: (n: number) => number };
  const mem = new Int8Array(m.buffer);
  for (let i = 0; i < 4096; i++) {
    mem[i] = ((i * 7) % 200) - 100;
    mem[4096 + i] = (i * 13) % 128;
  }
  const now = () => performance.now();
  let bestD = Infinity, bestS = Infinity;
  const t1 = now();
  for (let r = 0; r < ROUNDS || now() - t1 < PROBE_MS; r++) {
    let t0 = now();
    const rd = d(ITERS);
    bestD = Math.min(bestD, now() - t0);
    t0 = now();
    const rs = s(ITERS);
    bestS = Math.min(bestS, now() - t0);
    if (rd !== rs) return { fast: false, speedup: NaN, reason: `i32x4.relaxed_dot_i8x16_i7x16_add_s computed ${rd}, the i16 path ${rs}` };
  }
  // a timer too coarse to tell (a browser clamping performance.now) counts as "not faster"
  const speedup = bestD > 0 ? bestS / bestD : NaN;
  const fast = speedup >= DOT_PROBE_MIN_SPEEDUP;
  return {
    fast,
    speedup,
    reason: `dot-add loop ${Number.isFinite(speedup) ? speedup.toFixed(2) : 'n/a'}x the i16 path's speed (needs ${DOT_PROBE_MIN_SPEEDUP}x)`,
  };
}
