// Blocks of the LayerNorm decoders (GPT-2, GPT-NeoX, Phi-2, StableLM,
// StarCoder2, Falcon): LayerNorm with weight and bias, the GELU MLP, the
// per-head LayerNorm of q and k (StableLM 2 12B), the sequential residual
// layer, and the stack around the layers (embeddings in, LayerNorm and head
// out). Where the architectures differ in how attention and the MLP share a
// layer, each architecture file writes its own layer from these pieces.
import type { Tensor } from '../graph/graph.js';
import type { RopeParams } from '../graph/ops.js';
import { ModelError } from '../errors.js';
import { attend, linear, outputHead, qkvProjections, type AttentionOptions } from './blocks.js';
import type { BuildContext } from './context.js';

/** LayerNorm with `<name>.weight` and, when the file has it, `<name>.bias` (llama.cpp's LLM_NORM). */
export function layerNorm(c: BuildContext, name: string, x: Tensor, label: string): Tensor {
  return c.ops.norm(x, c.w(`${name}.weight`), c.wOpt(`${name}.bias`) ?? null, c.hp.f_norm_eps, label);
}

/** The GELU MLP: down(gelu(up(x))), each projection with its bias when the file has one. */
export function ffnGelu(c: BuildContext, il: number, cur: Tensor): Tensor {
  const p = `blk.${il}`;
  const up = linear(c, `${p}.ffn_up`, cur, `ffn_up-${il}`);
  const act = c.ops.gelu(up, `ffn_gelu-${il}`);
  return linear(c, `${p}.ffn_down`, act, `ffn_out-${il}`);
}

/**
 * LayerNorm of each head of x (no bias) with one weight row per head:
 * `weight` is [head_dim, n_heads], so row r of the per-head view (token
 * r / n_heads, head r % n_heads) takes weight row r % n_heads.
 */
function perHeadLayerNorm(c: BuildContext, x: Tensor, weight: Tensor, label: string): Tensor {
  const { ops, hp } = c;
  const normed = ops.norm(ops.heads(x, hp.n_embd_head_k), null, null, hp.f_norm_eps, `${label}_norm`);
  return ops.mul(normed, weight, label);
}

/**
 * Self-attention of the LayerNorm decoders: q, k, v (fused or separate, with
 * biases when present), a per-head LayerNorm of q and k when the file has
 * attn_q_norm / attn_k_norm (StableLM 2 12B; llama.cpp's selfAttention would
 * take them for RMSNorms), rope (or none), attention, output projection with
 * its bias.
 */
export function lnSelfAttention(c: BuildContext, il: number, cur: Tensor, rope: RopeParams | null, opts: AttentionOptions = {}): Tensor {
  const p = `blk.${il}`;
  let { q, k, v } = qkvProjections(c, il, cur);
  const qNorm = c.wOpt(`${p}.attn_q_norm.weight`);
  const kNorm = c.wOpt(`${p}.attn_k_norm.weight`);
  if (qNorm) q = perHeadLayerNorm(c, q, qNorm, `Qcur_normed-${il}`);
  if (kNorm) k = perHeadLayerNorm(c, k, kNorm, `Kcur_normed-${il}`);
  return linear(c, `${p}.attn_output`, attend(c, il, q, k, v, rope, opts), `attn_out-${il}`);
}

/**
 * The sequential (GPT-2) layer: x + attn(LN(x)), then that plus
 * mlp(LN'(that)) with ffn_norm. Without ffn_norm (StableLM 2 12B's parallel
 * layout) the MLP reads the attention's normed input instead.
 */
export function sequentialLayer(
  c: BuildContext, il: number, x: Tensor,
  attention: (h: Tensor) => Tensor, mlp: (h: Tensor) => Tensor,
): Tensor {
  const { ops } = c;
  const p = `blk.${il}`;
  const h = layerNorm(c, `${p}.attn_norm`, x, `attn_norm-${il}`);
  const ffnInp = ops.add(attention(h), x, `ffn_inp-${il}`);
  const g = c.wOpt(`${p}.ffn_norm.weight`) ? layerNorm(c, `${p}.ffn_norm`, ffnInp, `ffn_norm-${il}`) : h;
  return ops.add(mlp(g), ffnInp, `l_out-${il}`);
}

export interface LayerNormStackOptions {
  /** Token embeddings plus position_embd rows at each position (GPT-2's learned positions). */
  positionEmbeddings?: boolean;
  /** Layer il's output from its input. */
  layer: (il: number, x: Tensor) => Tensor;
}

/** Embeddings, the layers, then output_norm (LayerNorm with bias) and the head (with output.bias when present). */
export function layerNormStack(c: BuildContext, o: LayerNormStackOptions): Tensor {
  const { ops, hp } = c;
  let x = ops.getRows(c.w('token_embd.weight'), c.inpTokens);
  if (o.positionEmbeddings) {
    const table = c.w('position_embd.weight');
    // a position past the table would read beyond it
    const nCtx = c.cache[0]?.nCtx ?? 0;
    if (nCtx > table.ne[1]!) throw new ModelError(`context of ${nCtx} exceeds position_embd.weight's ${table.ne[1]} positions`, undefined, 'position_embd.weight');
    const pos = ops.getRows(table, c.inpPos, 'pos_embd');
    x = ops.add(x, pos, 'inpL');
  }
  for (let il = 0; il < hp.n_layer; il++) x = o.layer(il, x);
  return outputHead(c, x, (y) => layerNorm(c, 'output_norm', y, 'result_norm'));
}
