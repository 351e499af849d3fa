// Random-weight Granite 3.x (dense) GGUF files: the Llama tensors plus
// Granite's four multipliers in the metadata. Weights are drawn so that,
// after the multipliers, the residual stream and logits have the spreads
// the options ask for (as a llama file of the same options would).
import type { GGMLType } from '../ggml-types.js';
import { GGUFValueType, type GGUFKVInput, type GGUFWriteSpec } from '../gguf/index.js';
import { decoderKV, headDimOf, type DecoderShape } from './decoder-kv.js';
import { RandomTensors, type SyntheticOptions } from './tensors.js';

export interface GraniteShape extends DecoderShape {
  embeddingScale: number;
  residualScale: number;
  /** attention.scale: q·k times this instead of 1/sqrt(head_dim). */
  attentionScale: number;
  /** Logits are divided by this. */
  logitScale: number;
  tied?: boolean;
  /** rope.scaling.finetuned; false: llama.cpp runs granite without rope. Absent: rope. */
  ropeFinetuned?: boolean;
  /** attn_output and FFN biases (optional in llama.cpp's granite). */
  biases?: boolean;
}

export const GRANITE_SHAPES: Readonly<Record<string, GraniteShape>> = {
  // granite-3.1-2b: GQA 32/8, tied head; multipliers 12, 0.22, 1/64, 8. The attention
  // scale here is 1.5/sqrt(head_dim) instead (random q and k have far smaller dot
  // products than trained ones; a real 1/64 would make attention uniform).
  'granite-tiny': {
    n_vocab: 512, n_embd: 256, n_layer: 2, n_head: 4, n_head_kv: 2, n_ff: 512, n_ctx_train: 4096, rope_freq_base: 10000000,
    embeddingScale: 12, residualScale: 0.22, attentionScale: 0.1875, logitScale: 8, rms_eps: 1e-5,
  },
};

export function graniteModelSpec(s: GraniteShape, type: GGMLType, options: SyntheticOptions = {}): GGUFWriteSpec {
  const f32 = GGUFValueType.FLOAT32;
  const extra: GGUFKVInput[] = [
    { key: 'granite.embedding_scale', value: s.embeddingScale, type: f32 },
    { key: 'granite.residual_scale', value: s.residualScale, type: f32 },
    { key: 'granite.attention.scale', value: s.attentionScale, type: f32 },
    { key: 'granite.logit_scale', value: s.logitScale, type: f32 },
  ];
  if (s.ropeFinetuned !== undefined) extra.push({ key: 'granite.rope.scaling.finetuned', value: s.ropeFinetuned });
  const kv = decoderKV('granite', s, type, options, extra);
  const t = new RandomTensors(type, options);
  const headDim = headDimOf(s);
  const nQ = s.n_head * headDim;
  const nKV = s.n_head_kv * headDim;
  // what each branch adds after residual_scale
  const out = (options.blockOutScale ?? 1) / s.residualScale;
  const logitStd = (options.logitStd ?? 6) * s.logitScale;
  const proj = 1 / Math.sqrt(s.n_embd);
  // times embedding_scale in the graph: the residual stream starts at rms 1
  t.matrix('token_embd.weight', s.n_embd, s.n_vocab, 1 / s.embeddingScale);
  for (let il = 0; il < s.n_layer; il++) {
    const p = `blk.${il}`;
    t.vector(`${p}.attn_norm.weight`, s.n_embd, 1, 0.1);
    t.matrix(`${p}.attn_q.weight`, s.n_embd, nQ, proj);
    t.matrix(`${p}.attn_k.weight`, s.n_embd, nKV, proj);
    t.matrix(`${p}.attn_v.weight`, s.n_embd, nKV, proj);
    t.matrix(`${p}.attn_output.weight`, nQ, s.n_embd, out / Math.sqrt(nQ));
    if (s.biases) t.vector(`${p}.attn_output.bias`, s.n_embd, 0, 0.5 * out);
    t.vector(`${p}.ffn_norm.weight`, s.n_embd, 1, 0.1);
    t.ffn(p, s.n_embd, s.n_ff, out);
    if (s.biases) {
      t.vector(`${p}.ffn_gate.bias`, s.n_ff, 0, 0.5);
      t.vector(`${p}.ffn_up.bias`, s.n_ff, 0, 0.5);
      t.vector(`${p}.ffn_down.bias`, s.n_embd, 0, 0.5 * out);
    }
  }
  if (s.tied) {
    // the head is token_embd (sigma 1/embedding_scale): the final norm's weights set the logit spread
    const g = (logitStd * s.embeddingScale) / Math.sqrt(s.n_embd);
    t.vector('output_norm.weight', s.n_embd, g, 0.1 * g);
  } else {
    t.vector('output_norm.weight', s.n_embd, 1, 0.1);
    t.matrix('output.weight', s.n_embd, s.n_vocab, logitStd * proj);
  }
  return { kv, tensors: t.tensors };
}
