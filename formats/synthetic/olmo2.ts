// Random-weight OLMo 2 GGUF files with every tensor llama.cpp expects: no
// pre-branch norms, RMSNorm on each branch's output (post_attention_norm,
// post_ffw_norm), q and k norms over whole rows (n_head*head_dim and
// n_head_kv*head_dim weights), SwiGLU FFN, untied head. Optionally OLMo 3's
// sliding-window keys.
import type { GGMLType } from '../ggml-types.js';
import { GGUFValueType, type GGUFKVInput, type GGUFWriteSpec } from '../gguf/index.js';
import { decoderKV, headDimOf, type DecoderShape } from './decoder-kv.js';
import { RandomTensors, type SyntheticOptions } from './tensors.js';

export interface Olmo2Shape extends DecoderShape {
  /** attention.sliding_window (OLMo 3): sliding layers, every 4th global unless swaPattern. */
  n_swa?: number;
  /**
   * attention.sliding_window_pattern: a period, or one flag per layer as the
   * converter writes for OLMo 3 (llama.cpp reads only a period and keeps its
   * default of 4 for an array).
   */
  swaPattern?: number | boolean[];
  /** OLMo 3's yarn context extension (global layers only). */
  ropeScaling?: { type: 'yarn'; factor: number; originalContext: number };
}

export const OLMO2_SHAPES: Readonly<Record<string, Olmo2Shape>> = {
  // OLMo-2-1B's proportions (OLMo-2-32B uses GQA: so do we)
  'olmo2-tiny': { n_vocab: 512, n_embd: 256, n_layer: 2, n_head: 4, n_head_kv: 2, n_ff: 512, n_ctx_train: 4096, rope_freq_base: 500000 },
  // Olmo-3-7B: 3 sliding layers (window 4096) then a global one, yarn x8 on the global layers
  'olmo3-tiny': {
    n_vocab: 512, n_embd: 256, n_layer: 4, n_head: 4, n_head_kv: 2, n_ff: 512, n_ctx_train: 65536, rope_freq_base: 500000,
    n_swa: 24, swaPattern: [true, true, true, false], ropeScaling: { type: 'yarn', factor: 8, originalContext: 8192 },
  },
};

export function olmo2ModelSpec(s: Olmo2Shape, type: GGMLType, options: SyntheticOptions = {}): GGUFWriteSpec {
  const extra: GGUFKVInput[] = [];
  if (s.n_swa !== undefined) extra.push({ key: 'olmo2.attention.sliding_window', value: s.n_swa });
  if (s.swaPattern !== undefined) extra.push({ key: 'olmo2.attention.sliding_window_pattern', value: s.swaPattern });
  if (s.ropeScaling) {
    extra.push({ key: 'olmo2.rope.scaling.type', value: s.ropeScaling.type });
    extra.push({ key: 'olmo2.rope.scaling.factor', value: s.ropeScaling.factor, type: GGUFValueType.FLOAT32 });
    extra.push({ key: 'olmo2.rope.scaling.original_context_length', value: s.ropeScaling.originalContext });
  }
  const kv = decoderKV('olmo2', s, type, options, extra);
  const t = new RandomTensors(type, options);
  const headDim = headDimOf(s);
  const nQ = s.n_head * headDim;
  const nKV = s.n_head_kv * headDim;
  const out = options.blockOutScale ?? 1;
  const proj = 1 / Math.sqrt(s.n_embd);
  t.matrix('token_embd.weight', s.n_embd, s.n_vocab, 1);
  for (let il = 0; il < s.n_layer; il++) {
    const p = `blk.${il}`;
    t.matrix(`${p}.attn_q.weight`, s.n_embd, nQ, proj);
    t.matrix(`${p}.attn_k.weight`, s.n_embd, nKV, proj);
    t.matrix(`${p}.attn_v.weight`, s.n_embd, nKV, proj);
    t.matrix(`${p}.attn_output.weight`, nQ, s.n_embd, 1 / Math.sqrt(nQ));
    t.vector(`${p}.attn_q_norm.weight`, nQ, 1, 0.2);
    t.vector(`${p}.attn_k_norm.weight`, nKV, 1, 0.2);
    // the post norms set how far each branch moves the residual stream
    t.vector(`${p}.post_attention_norm.weight`, s.n_embd, out, 0.1 * out);
    t.ffn(p, s.n_embd, s.n_ff, 1);
    t.vector(`${p}.post_ffw_norm.weight`, s.n_embd, out, 0.1 * out);
  }
  t.vector('output_norm.weight', s.n_embd, 1, 0.1);
  t.matrix('output.weight', s.n_embd, s.n_vocab, (options.logitStd ?? 6) * proj);
  return { kv, tensors: t.tensors };
}
