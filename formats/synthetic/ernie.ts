// Random-weight ERNIE 4.5 GGUF files (ernie4_5 and ernie4_5-moe) with the
// tensor names and metadata keys llama.cpp's loader reads: the Llama tensors,
// and for the MoE model a router, a per-expert selection bias (exp_probs_b)
// and 3-D expert tensors on every layer past leading_dense_block_count, plus
// the shared expert's *_shexp tensors.
import { GGMLType } from '../ggml-types.js';
import { GGUFValueType, type GGUFKVInput, type GGUFWriteSpec } from '../gguf/index.js';
import { decoderKV, headDimOf, type DecoderShape } from './decoder-kv.js';
import { RandomTensors, type SyntheticOptions } from './tensors.js';

export interface ErnieShape extends DecoderShape {
  tied?: boolean;
  /** attn_output.bias: llama.cpp loads it and its ERNIE graphs never add it. */
  outputBias?: boolean;
  /** The MoE model (ernie4_5-moe). Absent: dense ernie4_5. */
  moe?: {
    n_expert: number;
    n_expert_used: number;
    n_ff_exp: number;
    /** expert_shared_feed_forward_length; 0: no shared expert. */
    n_ff_shexp: number;
    /** leading_dense_block_count. */
    denseLead: number;
    /** Standard deviation of exp_probs_b (0: none written). */
    selectionBias: number;
    /** Standard deviation of the router logits (default 2). */
    routerSigma?: number;
  };
}

export const ERNIE_SHAPES: Readonly<Record<string, ErnieShape>> = {
  // ERNIE-4.5-0.3B's proportions: GQA 8 heads over 2, tied head, rope base 5e5
  'test-ernie4_5': { n_vocab: 512, n_embd: 256, n_layer: 2, n_head: 8, n_head_kv: 2, n_ff: 512, n_ctx_train: 131072, rope_freq_base: 500000, tied: true },
  // ERNIE-4.5-21B-A3B's layout: one leading dense layer, 64 experts (6 used) here 8 (2 used),
  // a shared expert, the router's selection bias; router logits and bias spread enough
  // that the bias changes many tokens' choices while few sit on a tie
  'test-ernie4_5-moe': {
    n_vocab: 512, n_embd: 256, n_layer: 3, n_head: 8, n_head_kv: 2, n_ff: 512, n_ctx_train: 131072, rope_freq_base: 500000,
    moe: { n_expert: 8, n_expert_used: 2, n_ff_exp: 256, n_ff_shexp: 512, denseLead: 1, selectionBias: 0.2, routerSigma: 4 },
  },
};

export function ernieModelSpec(s: ErnieShape, type: GGMLType, options: SyntheticOptions = {}): GGUFWriteSpec {
  const arch = s.moe ? 'ernie4_5-moe' : 'ernie4_5';
  const u32 = GGUFValueType.UINT32;
  const extra: GGUFKVInput[] = [];
  if (s.moe) {
    extra.push(
      { key: `${arch}.expert_count`, value: s.moe.n_expert, type: u32 },
      { key: `${arch}.expert_used_count`, value: s.moe.n_expert_used, type: u32 },
      { key: `${arch}.interleave_moe_layer_step`, value: 1, type: u32 },
      { key: `${arch}.leading_dense_block_count`, value: s.moe.denseLead, type: u32 },
      { key: `${arch}.expert_feed_forward_length`, value: s.moe.n_ff_exp, type: u32 },
    );
    if (s.moe.n_ff_shexp > 0) {
      extra.push({ key: `${arch}.expert_shared_count`, value: 1, type: u32 }, { key: `${arch}.expert_shared_feed_forward_length`, value: s.moe.n_ff_shexp, type: u32 });
    }
  }
  const kv = decoderKV(arch, s, type, options, extra);
  const t = new RandomTensors(type, options);
  const headDim = headDimOf(s);
  const nQ = s.n_head * headDim;
  const nKV = s.n_head_kv * headDim;
  const out = options.blockOutScale ?? 1;
  const proj = 1 / Math.sqrt(s.n_embd);
  t.matrix('token_embd.weight', s.n_embd, s.n_vocab, 1);
  for (let il = 0; il < s.n_layer; il++) {
    const p = `blk.${il}`;
    t.vector(`${p}.attn_norm.weight`, s.n_embd, 1, 0.1);
    t.matrix(`${p}.attn_q.weight`, s.n_embd, nQ, proj);
    t.matrix(`${p}.attn_k.weight`, s.n_embd, nKV, proj);
    t.matrix(`${p}.attn_v.weight`, s.n_embd, nKV, proj);
    t.matrix(`${p}.attn_output.weight`, nQ, s.n_embd, out / Math.sqrt(nQ));
    if (s.outputBias) t.vector(`${p}.attn_output.bias`, s.n_embd, 0, 0.5 * out);
    t.vector(`${p}.ffn_norm.weight`, s.n_embd, 1, 0.1);
    const m = s.moe;
    if (m && il >= m.denseLead) {
      t.moe(p, s.n_embd, m.n_ff_exp, m.n_expert, out, m.routerSigma ?? 2, m.selectionBias);
      if (m.n_ff_shexp > 0) {
        t.ffn(p, s.n_embd, m.n_ff_shexp, out, '_shexp');
      }
    } else {
      t.ffn(p, s.n_embd, s.n_ff, out);
    }
  }
  const logitStd = options.logitStd ?? 6;
  if (s.tied) {
    // the head is token_embd (sigma 1): the final norm's weights set the logit spread
    t.vector('output_norm.weight', s.n_embd, logitStd * proj, 0.1 * logitStd * proj);
  } else {
    t.vector('output_norm.weight', s.n_embd, 1, 0.1);
    t.matrix('output.weight', s.n_embd, s.n_vocab, logitStd * proj);
  }
  return { kv, tensors: t.tensors };
}
