// Random-weight Phi-3 GGUF files as the converter writes them: one fused
// attn_qkv (q, k, v rows stacked), one fused ffn_up (gate rows, then up
// rows), and for long-context models the rope factor tensors
// (rope_factors_short / rope_factors_long, n_rot/2 each) with
// rope.scaling.original_context_length and rope.scaling.attn_factor.
import { ggmlTypeInfo, type GGMLType } from '../ggml-types.js';
import { GGUFValueType, type GGUFKVInput, type GGUFWriteSpec } from '../gguf/index.js';
import { decoderKV, headDimOf, type DecoderShape } from './decoder-kv.js';
import { RandomTensors, type SyntheticOptions } from './tensors.js';

export interface Phi3Shape extends DecoderShape {
  /** Long-rope: factors and the context they were trained for (Phi-3-*-128k). */
  longRope?: { originalContext: number };
  /** attention.sliding_window as the converter writes it (llama.cpp ignores it for phi3). */
  n_swa?: number;
  tied?: boolean;
}

export const PHI3_SHAPES: Readonly<Record<string, Phi3Shape>> = {
  // Phi-3-mini-128k: MHA, head 96 of 3072, long rope from 4096 to 131072. The window
  // (2047 in Phi-3-mini-4k) is shorter than the test sequences: llama.cpp ignores it.
  'phi3-tiny': {
    n_vocab: 512, n_embd: 256, n_layer: 2, n_head: 4, n_head_kv: 4, n_ff: 512, n_ctx_train: 131072,
    longRope: { originalContext: 4096 }, n_swa: 24,
  },
  // Phi-4-mini: GQA 24/8, rope over 3/4 of each head, tied head, long rope
  'phi4-mini-tiny': {
    n_vocab: 512, n_embd: 256, n_layer: 2, n_head: 4, n_head_kv: 2, n_ff: 512, n_ctx_train: 131072, n_rot: 48,
    longRope: { originalContext: 4096 }, n_swa: 262144, tied: true,
  },
};

export function phi3ModelSpec(s: Phi3Shape, type: GGMLType, options: SyntheticOptions = {}): GGUFWriteSpec {
  const f32 = GGUFValueType.FLOAT32;
  const headDim = headDimOf(s);
  const nRot = s.n_rot ?? headDim;
  const extra: GGUFKVInput[] = [];
  if (s.longRope) {
    const orig = s.longRope.originalContext;
    extra.push({ key: 'phi3.rope.scaling.original_context_length', value: orig });
    // the converter's longrope attention factor
    const scale = s.n_ctx_train / orig;
    const attnFactor = scale > 1 ? Math.sqrt(1 + Math.log(scale) / Math.log(orig)) : 1;
    extra.push({ key: 'phi3.rope.scaling.attn_factor', value: attnFactor, type: f32 });
  }
  if (s.n_swa !== undefined) extra.push({ key: 'phi3.attention.sliding_window', value: s.n_swa });
  // llama.cpp gives special tokens of models named "phi3"/"phi-3" extra attributes and then
  // expects Phi's own special tokens in the vocabulary, which ours lacks: name it otherwise.
  const kv = decoderKV('phi3', s, type, options, extra, `synthetic Phi 3 ${ggmlTypeInfo(type)!.name}`);

  const t = new RandomTensors(type, options);
  const nQ = s.n_head * headDim;
  const nKV = s.n_head_kv * headDim;
  const out = options.blockOutScale ?? 1;
  const logitStd = options.logitStd ?? 6;
  const proj = 1 / Math.sqrt(s.n_embd);
  t.matrix('token_embd.weight', s.n_embd, s.n_vocab, 1);
  if (s.longRope) {
    // short factors near 1, long ones up to ~10 for the lowest frequencies (as in Phi-3's config)
    const n = nRot / 2;
    t.f32('rope_factors_short.weight', [n], (rand) => new Float32Array(n).map((_, i) => 1 + (0.5 * i) / n + 0.05 * rand()));
    t.f32('rope_factors_long.weight', [n], (rand) => new Float32Array(n).map((_, i) => 1 + (9 * i * i) / (n * n) + 0.2 * rand()));
  }
  for (let il = 0; il < s.n_layer; il++) {
    const p = `blk.${il}`;
    t.vector(`${p}.attn_norm.weight`, s.n_embd, 1, 0.1);
    t.matrix(`${p}.attn_qkv.weight`, s.n_embd, nQ + 2 * nKV, proj);
    t.matrix(`${p}.attn_output.weight`, nQ, s.n_embd, out / Math.sqrt(nQ));
    t.vector(`${p}.ffn_norm.weight`, s.n_embd, 1, 0.1);
    t.matrix(`${p}.ffn_up.weight`, s.n_embd, 2 * s.n_ff, proj);
    t.matrix(`${p}.ffn_down.weight`, s.n_ff, s.n_embd, out / Math.sqrt(s.n_ff));
  }
  if (s.tied) {
    // the head is token_embd (sigma 1): the final norm's weights set the logit spread
    t.vector('output_norm.weight', s.n_embd, logitStd * proj, 0.1 * logitStd * proj);
  } else {
    t.vector('output_norm.weight', s.n_embd, 1, 0.1);
    t.matrix('output.weight', s.n_embd, s.n_vocab, logitStd * proj);
  }
  return { kv, tensors: t.tensors };
}
