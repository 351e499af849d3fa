// Random-weight Gemma 1 / 2 / 3 GGUF files with every tensor llama.cpp
// expects: head size independent of n_embd (key_length), GeGLU FFN, head
// tied to token_embd, RMSNorm weights around 1 as the converter stores them
// (Gemma's "1 +" already added), post-branch norms (gemma2/3), per-head QK
// norms (gemma3), sliding-window and soft-capping keys.
import type { GGMLType } from '../ggml-types.js';
import { GGUFValueType, type GGUFKVInput, type GGUFWriteSpec } from '../gguf/index.js';
import { decoderKV, headDimOf, type DecoderShape } from './decoder-kv.js';
import { RandomTensors, type SyntheticOptions } from './tensors.js';

export interface GemmaShape extends DecoderShape {
  arch: 'gemma' | 'gemma2' | 'gemma3';
  /** attention.sliding_window (gemma2/3). Absent on gemma3: no sliding layers. */
  n_swa?: number;
  /** attention.sliding_window_pattern; absent: llama.cpp's default (gemma2 2, gemma3 6). */
  swaPattern?: number;
  /** rope.freq_base_swa (the local layers' base; gemma3's default is 10000). */
  ropeFreqBaseSwa?: number;
  /** attn_logit_softcapping (gemma2). */
  attnSoftcap?: number;
  /** final_logit_softcapping (gemma2; optional on gemma3). */
  finalSoftcap?: number;
  ropeScaling?: { type: 'linear'; factor: number };
  /** q and k weights times this: sharper attention than 1/sqrt(n_embd) gives. Default 1. */
  qkGain?: number;
}

/** Gemma's proportions scaled down: head size 128 against n_embd 256 (so q is wider than n_embd), few kv heads. */
export const GEMMA_SHAPES: Readonly<Record<string, GemmaShape>> = {
  // gemma-2b: MQA, head 256 for n_embd 2048
  'gemma-tiny': { arch: 'gemma', n_vocab: 512, n_embd: 256, n_layer: 2, n_head: 4, n_head_kv: 1, head_dim: 128, n_ff: 512, n_ctx_train: 8192 },
  // gemma-2-2b: GQA 8/4, head 256, window 4096 on every other layer, soft-caps (50, 30 in the
  // real files; smaller here because random weights give far smaller scores and logits)
  'gemma2-tiny': {
    arch: 'gemma2', n_vocab: 512, n_embd: 256, n_layer: 2, n_head: 4, n_head_kv: 2, head_dim: 128, n_ff: 512, n_ctx_train: 8192,
    n_swa: 24, attnSoftcap: 2.5, finalSoftcap: 12, qkGain: 1.5,
  },
  // gemma-3-1b: MQA, head 256, window 512 on 5 of every 6 layers, rope 1e6 global / 1e4 local
  'gemma3-6layer': {
    arch: 'gemma3', n_vocab: 512, n_embd: 256, n_layer: 6, n_head: 4, n_head_kv: 1, head_dim: 128, n_ff: 512, n_ctx_train: 32768,
    n_swa: 24, rope_freq_base: 1000000,
  },
  // the same in 2 layers, one sliding and one global (sliding_window_pattern 2): rounding
  // differences grow with depth, and quantized weights turn them into flips
  'gemma3-tiny': {
    arch: 'gemma3', n_vocab: 512, n_embd: 256, n_layer: 2, n_head: 4, n_head_kv: 1, head_dim: 128, n_ff: 512, n_ctx_train: 32768,
    n_swa: 24, swaPattern: 2, rope_freq_base: 1000000,
  },
};

export function gemmaModelSpec(s: GemmaShape, type: GGMLType, options: SyntheticOptions = {}): GGUFWriteSpec {
  const arch = s.arch;
  const f32 = GGUFValueType.FLOAT32;
  const extra: GGUFKVInput[] = [];
  if (s.n_swa !== undefined) extra.push({ key: `${arch}.attention.sliding_window`, value: s.n_swa });
  if (s.swaPattern !== undefined) extra.push({ key: `${arch}.attention.sliding_window_pattern`, value: s.swaPattern });
  if (s.ropeFreqBaseSwa !== undefined) extra.push({ key: `${arch}.rope.freq_base_swa`, value: s.ropeFreqBaseSwa, type: f32 });
  if (s.attnSoftcap !== undefined) extra.push({ key: `${arch}.attn_logit_softcapping`, value: s.attnSoftcap, type: f32 });
  if (s.finalSoftcap !== undefined) extra.push({ key: `${arch}.final_logit_softcapping`, value: s.finalSoftcap, type: f32 });
  if (s.ropeScaling) {
    extra.push({ key: `${arch}.rope.scaling.type`, value: s.ropeScaling.type });
    extra.push({ key: `${arch}.rope.scaling.factor`, value: s.ropeScaling.factor, type: f32 });
  }
  const kv = decoderKV(arch, s, type, options, extra);

  const t = new RandomTensors(type, options);
  const headDim = headDimOf(s);
  const nQ = s.n_head * headDim;
  const nKV = s.n_head_kv * headDim;
  const out = options.blockOutScale ?? 1;
  const logitStd = options.logitStd ?? 6;
  const proj = 1 / Math.sqrt(s.n_embd);
  const qk = proj * (s.qkGain ?? 1);
  const sandwich = arch !== 'gemma';
  // Post-branch norms set each branch's contribution; without them the output projections do.
  const branchOut = sandwich ? 1 : out;
  // times sqrt(n_embd) in the graph: the residual stream starts at rms 1
  t.matrix('token_embd.weight', s.n_embd, s.n_vocab, proj);
  for (let il = 0; il < s.n_layer; il++) {
    const p = `blk.${il}`;
    t.vector(`${p}.attn_norm.weight`, s.n_embd, 1, 0.1);
    t.matrix(`${p}.attn_q.weight`, s.n_embd, nQ, qk);
    t.matrix(`${p}.attn_k.weight`, s.n_embd, nKV, qk);
    t.matrix(`${p}.attn_v.weight`, s.n_embd, nKV, proj);
    if (arch === 'gemma3') {
      t.vector(`${p}.attn_q_norm.weight`, headDim, 1, 0.2);
      t.vector(`${p}.attn_k_norm.weight`, headDim, 1, 0.2);
    }
    t.matrix(`${p}.attn_output.weight`, nQ, s.n_embd, branchOut / Math.sqrt(nQ));
    if (sandwich) t.vector(`${p}.post_attention_norm.weight`, s.n_embd, out, 0.1 * out);
    t.vector(`${p}.ffn_norm.weight`, s.n_embd, 1, 0.1);
    t.ffn(p, s.n_embd, s.n_ff, branchOut);
    if (sandwich) t.vector(`${p}.post_ffw_norm.weight`, s.n_embd, out, 0.1 * out);
  }
  // The head is token_embd (sigma 1/sqrt(n_embd)): the final norm's weights set the logit spread.
  t.vector('output_norm.weight', s.n_embd, logitStd, 0.1 * logitStd);
  return { kv, tensors: t.tensors };
}
