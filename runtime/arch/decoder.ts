// The one decoder stack: token embeddings (scaled, plus learned positions
// where the architecture has them), the layers, then the final norm and the
// LM head (scaled, soft-capped). Its defaults are Llama's: RMSNorm before
// each branch, sequential residual, SwiGLU, rope in NORM mode with
// rope_freqs when the file has them. Every decoder architecture in this
// folder is a few settings of it; how a layer wires attention and the FFN
// together is one of two layer functions (sequential or parallel).
import { ModelError } from '../errors.js';
import type { Tensor } from '../graph/graph.js';
import { buildNorm, outputHead, ROPE_NORM, ropeParams, selfAttention, type AttentionOptions, type NormKind } from './blocks.js';
import type { BuildContext } from './context.js';
import { buildFfn, type FFNBlock } from './ffn.js';

/** What a layer function gets: the stack's norm, attention and FFN, bound to layer il. */
export interface LayerParts {
  il: number;
  /** The stack's norm kind applied with `blk.<il>.<name>`. */
  norm(name: string, x: Tensor, label: string): Tensor;
  /** Whether the file has `blk.<il>.<name>.weight` (layouts that differ by a tensor). */
  has(name: string): boolean;
  attention(h: Tensor): Tensor;
  ffn(h: Tensor): Tensor;
  /** Each branch's output before its residual add: post-norm and residual scale when the stack has them. */
  branch(out: Tensor, postNorm: string, label: string): Tensor;
}

export type LayerBlock = (c: BuildContext, x: Tensor, l: LayerParts) => Tensor;

export interface SequentialOptions {
  /** attn_norm and ffn_norm before each branch (false for OLMo 2). Default true. */
  preNorms?: boolean;
  /** The name of the norm before the FFN (gpt-oss calls it post_attention_norm). Default 'ffn_norm'. */
  ffnNorm?: string;
  /**
   * The branch before the FFN of layer il: self-attention by default; a
   * hybrid's recurrent layers mix tokens with their own block (lfm2's short
   * convolution) and call `attention` on the others.
   */
  mixer?: (c: BuildContext, il: number, h: Tensor, attention: (h: Tensor) => Tensor) => Tensor;
}

/**
 * The sequential layer: x + attn(norm(x)), then that plus ffn(ffn_norm(that)).
 * Without pre-norms (OLMo 2) the branches read the stream itself; a file
 * without ffn_norm (StableLM 2 12B) feeds the FFN the attention's normed input.
 */
export function sequential(o: SequentialOptions = {}): LayerBlock {
  const preNorms = o.preNorms ?? true;
  const ffnNorm = o.ffnNorm ?? 'ffn_norm';
  const mixer = o.mixer ?? ((_c, _il, h, attention) => attention(h));
  return (c, x, l) => {
    const { ops } = c;
    const h = preNorms ? l.norm('attn_norm', x, `attn_norm-${l.il}`) : x;
    const ffnInp = ops.add(l.branch(mixer(c, l.il, h, l.attention), 'post_attention_norm', 'attn_out'), x, `ffn_inp-${l.il}`);
    const g = !preNorms ? ffnInp : l.has(ffnNorm) ? l.norm(ffnNorm, ffnInp, `ffn_norm-${l.il}`) : h;
    return ops.add(l.branch(l.ffn(g), 'post_ffw_norm', 'ffn_out'), ffnInp, `l_out-${l.il}`);
  };
}

/**
 * The parallel layer: attention and FFN both read the layer input and their
 * outputs are added to it together. The FFN reads attn_norm's output (Phi-2,
 * Falcon) or its own ffn_norm when the file has one (GPT-NeoX); attention
 * reads attn_norm_2 when the file has it (Falcon-40B). The sums follow
 * llama.cpp's order for each, so results match it bit for bit.
 */
export const parallel: LayerBlock = (c, x, l) => {
  const { ops } = c;
  const h = l.norm('attn_norm', x, `attn_norm-${l.il}`);
  const attnIn = l.has('attn_norm_2') ? l.norm('attn_norm_2', x, `attn_norm_2-${l.il}`) : h;
  const attn = l.attention(attnIn);
  if (l.has('ffn_norm')) {
    // gptneox: x + attn(ln1(x)) + mlp(ln2(x)), summed as (mlp + x) + attn
    const mlp = l.ffn(l.norm('ffn_norm', x, `ffn_norm-${l.il}`));
    return ops.add(ops.add(mlp, x, `ffn_res-${l.il}`), attn, `l_out-${l.il}`);
  }
  return ops.add(ops.add(attn, l.ffn(h), `attn_ffn-${l.il}`), x, `l_out-${l.il}`);
};

export interface DecoderOptions {
  /** RMSNorm (llama) or LayerNorm with bias (gpt2 family). Default 'rms'. */
  norm?: NormKind;
  /** Token embeddings times this (gemma: sqrt(n_embd), granite: embedding_scale); 0 or absent: none. */
  embeddingScale?: number;
  /** Plus position_embd's row at each position (GPT-2's learned positions). */
  positionEmbeddings?: boolean;
  /** Layer il's attention settings. Default: rope NORM with rope_freqs when present, llama's scales. */
  attention?: (il: number) => AttentionOptions;
  /** Default: SwiGLU with separate gate and up. */
  ffn?: FFNBlock;
  /**
   * Layer il's whole attention branch, from the normed input to the output
   * projection, where it is not the shared self-attention (deepseek2's
   * multi-head latent attention); `attention` is then unused.
   */
  attentionBlock?: (c: BuildContext, il: number, cur: Tensor) => Tensor;
  /** How a layer wires its branches. Default: sequential with pre-norms. */
  layer?: LayerBlock;
  /** post_attention_norm and post_ffw_norm on each branch's output, before its residual add (gemma2/3, OLMo 2). */
  postNorms?: boolean;
  /** Each branch's output times this before its residual add (granite's residual_scale); 0 or absent: none. */
  residualScale?: number;
  /** Logits divided by this (granite's logit_scale); 0 or absent: none. */
  logitScale?: number;
  /** cap * tanh(logits / cap) (gemma2's final_logit_softcapping); 0 or absent: none. */
  finalSoftcap?: number;
  /** The final norm's tensor name (lfm2's is token_embd_norm). Default 'output_norm'. */
  outputNorm?: string;
}

/** Token embeddings, scaled and with learned positions as the options say (build_inp_embd). */
function embeddings(c: BuildContext, o: DecoderOptions): Tensor {
  const { ops } = c;
  let x = ops.getRows(c.w('token_embd.weight'), c.inpTokens);
  if (o.embeddingScale) x = ops.scale(x, o.embeddingScale, 'inp_scaled');
  if (o.positionEmbeddings) {
    const table = c.w('position_embd.weight');
    // a position past the table would read beyond it
    const nCtx = c.cache[0]?.nCtx ?? 0;
    if (nCtx > table.ne[1]!) throw new ModelError(`context of ${nCtx} exceeds position_embd.weight's ${table.ne[1]} positions`, undefined, 'position_embd.weight');
    x = ops.add(x, ops.getRows(table, c.inpPos, 'pos_embd'), 'inpL');
  }
  return x;
}

/** The decoder's graph: logits [n_vocab, nOutputs]. */
export function buildDecoder(c: BuildContext, o: DecoderOptions = {}): Tensor {
  const { ops, hp } = c;
  const kind = o.norm ?? 'rms';
  const layer = o.layer ?? sequential();
  const ffn = o.ffn ?? ((c: BuildContext, il: number, cur: Tensor) => buildFfn(c, il, cur));
  let attention = o.attention;
  if (!attention) {
    const rope = ropeParams(c, ROPE_NORM, c.wOpt('rope_freqs.weight'));
    attention = () => ({ rope });
  }
  const settings = attention;

  let x = embeddings(c, o);
  for (let il = 0; il < hp.n_layer; il++) {
    const p = `blk.${il}`;
    const norm = (name: string, y: Tensor, label: string) => buildNorm(c, kind, `${p}.${name}`, y, label);
    x = layer(c, x, {
      il,
      norm,
      has: (name) => c.wOpt(`${p}.${name}.weight`) !== undefined,
      attention: (h) => (o.attentionBlock ? o.attentionBlock(c, il, h) : selfAttention(c, il, h, settings(il))),
      ffn: (h) => ffn(c, il, h),
      branch: (out, post, label) => {
        if (o.postNorms) out = norm(post, out, `${post}-${il}`);
        if (o.residualScale) out = ops.scale(out, o.residualScale, `${label}_scaled-${il}`);
        return out;
      },
    });
  }
  let logits = outputHead(c, x, (y) => buildNorm(c, kind, o.outputNorm ?? 'output_norm', y, 'result_norm'));
  if (o.logitScale) logits = ops.scale(logits, 1 / o.logitScale, 'result_output_scaled');
  if (o.finalSoftcap) logits = ops.softcap(logits, o.finalSoftcap, 'result_output_softcapped');
  return logits;
}

/**
 * llama.cpp's set_swa_pattern (not dense-first): with period n, layers
 * il % n < n - 1 use the sliding window and every n-th is global; 0 makes
 * every layer sliding.
 */
export function isSwaLayer(il: number, period: number): boolean {
  return period === 0 || il % period < period - 1;
}
