// Gemma 3n's row kernels (kernels/ops-altup.c) against their scalar
// references (formats/altup.ts): bit for bit, for every thread split.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { altupAddRestRef, altupCorrectRef, altupPredictRef, gaussianTopKRef, magnitudeScaleRef } from '../formats/altup.js';
import type { Ptr } from '../wasm/loader.js';
import { bits, kernelCalls, type KernelFn as Fn } from './helpers/kernel-calls.js';
import { gaussian, mulberry32 } from './helpers/rng.js';

const { K, alloc, put, get, free } = await kernelCalls();
test.after(free);

/** Runs `kernel` with `args` then ith, nth for nth 1..3 and checks each output against `want`. */
function check(kernel: string, out: Ptr, want: Float32Array, args: number[]): void {
  const fn = K.lookup<Fn>(kernel)!;
  for (const nth of [1, 2, 3]) {
    K.u8().fill(0xff, out, out + want.byteLength);
    for (let ith = 0; ith < nth; ith++) fn(...args, ith, nth);
    assert.ok(bits(get(out, want.length)).equals(bits(want)), `${kernel}, nth ${nth}: differs from the reference`);
  }
}

for (const [n, nTok] of [[256, 5], [37, 1], [64, 3]] as const) {
  const A = 4;
  test(`altup kernels, rows of ${n}, ${nTok} tokens: the references' bits for nth 1..3`, () => {
    const rand = mulberry32(n * 7 + nTok);
    const stack = gaussian(rand, n * nTok * A, 1);
    const act = gaussian(rand, n * nTok, 1);
    const ref = gaussian(rand, n * nTok, 2);
    const pStack = put(stack), pAct = put(act), pRef = put(ref), out = alloc(stack.byteLength);
    // every stream rescaled to its token's reference row
    check('altup_magnitude_scale_f32', out, magnitudeScaleRef(stack, ref, n), [pStack, pRef, out, n, nTok * A, nTok]);
    // a gate with a few large values: most of the row falls below the cutoff
    const gate = gaussian(rand, n * nTok, 1).map((v, i) => (i % 11 === 0 ? v * 8 : v));
    check('gaussian_topk_f32', out, gaussianTopKRef(gate, n, 1.6448533535003662), [put(gate), out, n, nTok, 1.6448533535003662]);
    const pc = gaussian(rand, A * A * nTok, 0.5);
    check('altup_predict_f32', out, altupPredictRef(stack, pc, n, nTok, A), [pStack, put(pc), out, n, nTok, A]);
    const cc = gaussian(rand, A * nTok, 0.5);
    for (const iAct of [0, 2]) check('altup_correct_f32', out, altupCorrectRef(stack, act, cc, n, nTok, A, iAct), [pStack, pAct, put(cc), out, n, nTok, A, iAct]);
    check('altup_add_rest_f32', out, altupAddRestRef(stack, act, n, nTok), [pStack, pAct, out, n, nTok, A]);
  });
}

test('gaussian_topk_f32 keeps what exceeds mean + 1.645 std: about 5% of a normal row', () => {
  const n = 4096;
  const x = gaussian(mulberry32(5), n, 1);
  const kept = gaussianTopKRef(x, n, 1.6448533535003662).filter((v) => v > 0).length;
  assert.ok(kept > 0.03 * n && kept < 0.07 * n, `${kept} of ${n} kept`);
});

test.run();
