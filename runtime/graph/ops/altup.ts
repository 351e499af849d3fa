// Gemma 3n's row ops (kernels/ops-altup.c): AltUp's prediction and
// correction over the stack of n_altup streams, magnitude matching, and the
// gaussian top-k of activation sparsity.
import { elementCount, type Tensor } from '../graph.js';
import { at, contiguous } from './core.js';
import { SsmOps } from './ssm.js';

export class AltUpOps extends SsmOps {
  /** Each row of x rescaled to the magnitude (L2 norm) of row r % rows(ref) of ref: AltUp's magnitude matching. */
  magnitudeScale(x: Tensor, ref: Tensor, name: string): Tensor {
    const n = x.ne[0]!;
    const [rows, refRows] = [elementCount(x.ne) / n, elementCount(ref.ne) / n];
    if (ref.ne[0] !== n || rows % refRows !== 0) throw new Error(`${name}: magnitudes of [${ref.ne}] for [${x.ne}]`);
    contiguous(name, x, ref);
    const out = this.g.f32(name, x.ne);
    return this.g.add({ name, inputs: [x, ref], output: out, phases: [this.phase('altup_magnitude_scale_f32', at(x), at(ref), at(out), n, rows, refRows)] });
  }

  /** relu(x - mean - stdMul * std) per row (gemma 3n's activation sparsity; std over n - 1). */
  gaussianTopK(x: Tensor, stdMul: number, name: string): Tensor {
    const n = x.ne[0]!;
    contiguous(name, x);
    const out = this.g.f32(name, x.ne);
    return this.g.add({ name, inputs: [x], output: out, phases: [this.phase('gaussian_topk_f32', at(x), at(out), n, elementCount(x.ne) / n, stdMul)] });
  }

  /**
   * AltUp's prediction over a stack [n, n_tokens, n_altup]: stream a plus
   * the sum over k of coefs[k + n_altup * a] times stream k, coefs being
   * [n_altup * n_altup, n_tokens].
   */
  altupPredict(stack: Tensor, coefs: Tensor, nAltup: number, name: string): Tensor {
    const n = stack.ne[0]!;
    const nTok = elementCount(stack.ne) / (n * nAltup);
    if (coefs.ne[0] !== nAltup * nAltup || elementCount(coefs.ne) !== nAltup * nAltup * nTok) throw new Error(`${name}: coefficients [${coefs.ne}] for ${nTok} tokens`);
    contiguous(name, stack, coefs);
    const out = this.g.f32(name, stack.ne);
    return this.g.add({ name, inputs: [stack, coefs], output: out, phases: [this.phase('altup_predict_f32', at(stack), at(coefs), at(out), n, nTok, nAltup)] });
  }

  /**
   * AltUp's correction: every stream a of `pred` plus (act - pred[iAct]) times
   * coefs[a] + 1, coefs being [n_altup, n_tokens].
   */
  altupCorrect(pred: Tensor, act: Tensor, coefs: Tensor, nAltup: number, iAct: number, name: string): Tensor {
    const n = pred.ne[0]!;
    const nTok = elementCount(pred.ne) / (n * nAltup);
    if (elementCount(act.ne) !== n * nTok || coefs.ne[0] !== nAltup || elementCount(coefs.ne) !== nAltup * nTok) throw new Error(`${name}: shapes of the correction`);
    contiguous(name, pred, act, coefs);
    const out = this.g.f32(name, pred.ne);
    return this.g.add({
      name, inputs: [pred, act, coefs], output: out,
      phases: [this.phase('altup_correct_f32', at(pred), at(act), at(coefs), at(out), n, nTok, nAltup, iAct)],
    });
  }

  /** The stack with b [n, n_tokens] added to every stream but the first. */
  altupAddRest(stack: Tensor, b: Tensor, nAltup: number, name: string): Tensor {
    const n = stack.ne[0]!;
    const nTok = elementCount(stack.ne) / (n * nAltup);
    if (elementCount(b.ne) !== n * nTok) throw new Error(`${name}: [${b.ne}] added to a stack of ${nTok} tokens`);
    contiguous(name, stack, b);
    const out = this.g.f32(name, stack.ne);
    return this.g.add({ name, inputs: [stack, b], output: out, phases: [this.phase('altup_add_rest_f32', at(stack), at(b), at(out), n, nTok, nAltup)] });
  }
}
