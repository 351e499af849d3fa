// DeepSeek-V2 / V2-Lite, GLM-4.7-Flash and the other "deepseek2" files, as
// llama.cpp runs them (flash attention off):
//   - multi-head latent attention with the absorption llama.cpp uses: q from
//     attn_q, or through the low-rank attn_q_a -> RMSNorm(attn_q_a_norm) ->
//     attn_q_b when attention.q_lora_rank is set; each head's q is nope
//     dims then n_rot rope dims (key_length_mla = nope + n_rot).
//     attn_kv_a_mqa gives per token the latent (kv_lora_rank) and one shared
//     rope key (n_rot); the latent is RMSNormed (attn_kv_a_norm), the key
//     roped. The cache holds only [latent, rope key] per token (key_length =
//     kv_lora_rank + n_rot, one kv head); each head's q_nope is carried into
//     the latent space by its attn_k_b matrix, so attention is MQA over the
//     cache with q = [q_nope·k_b, rope(q_pe)], V = the latent, and each
//     head's output is decompressed by its attn_v_b matrix before
//     attn_output. Files with the older unsplit attn_kv_b (no key_length_mla)
//     are refused: llama.cpp runs them without the compressed cache.
//   - q·k scaled by mscale² / sqrt(key_length_mla), mscale = yarn's
//     0.1 * mscale_all_dim * ln(factor) + 1 (rope.scaling.yarn_log_multiplier,
//     which the converter writes times 0.1); NORM rope, yarn-scaled.
//   - the first leading_dense_block_count layers keep a dense SwiGLU FFN; the
//     others route to n_expert_used of n_expert SwiGLU experts (softmax or
//     sigmoid gating per expert_gating_func, exp_probs_b biasing the choice,
//     weights renormalised when expert_weights_norm, times
//     expert_weights_scale) plus expert_shared_count shared experts as one
//     ungated SwiGLU of n_ff_exp * expert_shared_count.
//   - optional llama 4 attention temperature (attention.temperature_scale,
//     floor attention.temperature_length), as Mistral Large 3 uses it.
import { ModelError } from '../errors.js';
import type { Tensor } from '../graph/graph.js';
import { isMla, type HParams } from '../hparams.js';
import { ROPE_NORM, ropeParams } from './blocks.js';
import type { BuildContext } from './context.js';
import { buildDecoder } from './decoder.js';
import {
  dim, dims, embeddingsAndHead, experts, ffn, layers, norm, opt, req,
  type Architecture, type DeclareTensors, type FileTensors, type TensorDecl,
} from './declare.js';
import { moeOrDense, sharedExpert, type MoeOptions } from './ffn.js';

/** llama.cpp's expert_gating_func values. */
const GATING_SOFTMAX = 1;
const GATING_SIGMOID = 2;

/** What the tests' broken variants switch off; every field true is deepseek2. */
export interface Deepseek2Options {
  /** The yarn mscale² in q·k's scale (else 1/sqrt(key_length_mla)). */
  mscale: boolean;
  /** The shared experts beside the routed ones. */
  sharedExperts: boolean;
  /** Rope on the rope dims of q and of the shared key. */
  rope: boolean;
}

export const DEEPSEEK2: Deepseek2Options = { mscale: true, sharedExperts: true, rope: true };

/** The gating llama.cpp uses for a file: expert_gating_func, else its default (GLM-4.7-Flash's shape: sigmoid). */
export function deepseek2Gating(hp: HParams): 'softmax' | 'sigmoid' {
  let g = hp.expert_gating_func;
  if (g === 0) g = (hp.n_layer === 47 || hp.n_layer === 48) && hp.n_vocab === 154880 ? GATING_SIGMOID : GATING_SOFTMAX;
  return g === GATING_SIGMOID ? 'sigmoid' : 'softmax';
}

/** q·k's scale, in float as llama.cpp computes it: yarn's attention factor undone, mscale² / sqrt(key_length_mla). */
export function deepseek2KqScale(hp: HParams, withMscale = true): number {
  const f = Math.fround;
  const invScale = f(Math.log(f(1 / f(hp.rope_freq_scale))));
  const attnFactorOrg = f(f(hp.yarn_attn_factor) * f(1 + f(0.1 * invScale)));
  const mscale = f(attnFactorOrg * f(1 + f(f(0.1 * f(hp.rope_yarn_log_mul)) * invScale)));
  const m2 = withMscale ? f(f(1 * mscale) * mscale) : 1;
  return f(m2 / f(Math.sqrt(hp.n_embd_head_k_mla)));
}

/** Layer il's multi-head latent attention, from the normed input to attn_output. */
function mlaAttention(o: Deepseek2Options) {
  return (c: BuildContext, il: number, cur: Tensor): Tensor => {
    const { ops, hp } = c;
    const p = `blk.${il}`;
    const nHead = hp.n_head;
    const nRot = hp.n_rot;
    const kMla = hp.n_embd_head_k_mla;
    const nope = kMla - nRot;
    const rank = hp.n_lora_kv;
    const nTok = c.nTokens;
    const rope = ropeParams(c, ROPE_NORM);

    let q: Tensor;
    if (c.wOpt(`${p}.attn_q.weight`)) q = ops.matmul(c.w(`${p}.attn_q.weight`), cur, `q-${il}`);
    else {
      q = ops.matmul(c.w(`${p}.attn_q_a.weight`), cur, `q_a-${il}`);
      q = ops.rmsNorm(q, c.w(`${p}.attn_q_a_norm.weight`), hp.f_norm_rms_eps, `q_a_norm-${il}`);
      q = ops.matmul(c.w(`${p}.attn_q_b.weight`), q, `q-${il}`);
    }
    // each head's row: nope dims, then rope dims
    const qNope = ops.g.view(q, `q_nope-${il}`, [nope, nHead * nTok], 0, kMla * 4);
    let qPe = ops.cont(ops.g.view(q, `q_pe_view-${il}`, [nRot, nHead * nTok], nope * 4, kMla * 4), `q_pe-${il}`);
    if (o.rope) qPe = ops.rope(qPe, c.inpPos, nHead, nRot, rope, `q_pe_rope-${il}`);

    const kvCmprPe = ops.matmul(c.w(`${p}.attn_kv_a_mqa.weight`), cur, `kv_cmpr_pe-${il}`);
    const row = (rank + nRot) * 4;
    let kPe = ops.g.view(kvCmprPe, `k_pe-${il}`, [nRot, nTok], rank * 4, row);
    kPe = o.rope ? ops.rope(kPe, c.inpPos, 1, nRot, rope, `k_pe_rope-${il}`) : ops.cont(kPe, `k_pe_cont-${il}`);
    const kvCmpr = ops.rmsNorm(ops.cont(ops.g.view(kvCmprPe, `kv_cmpr_view-${il}`, [rank, nTok], 0, row), `kv_cmpr-${il}`),
      c.w(`${p}.attn_kv_a_norm.weight`), hp.f_norm_rms_eps, `kv_cmpr_norm-${il}`);

    // q_nope carried into the latent space by each head's k_b: [rank, n_head, n_tokens]
    const qAbsorbed = ops.matmulPerHead(c.w(`${p}.attn_k_b.weight`), qNope, `q_nope_absorbed-${il}`);
    let qCur = ops.concat(qAbsorbed, qPe, `Qcur-${il}`);
    const kCur = ops.concat(kvCmpr, kPe, `Kcur-${il}`);
    if (hp.f_attn_temp_scale !== 0) {
      qCur = ops.attnTempScale(qCur, c.inpPos, hp.n_attn_temp_floor_scale, hp.f_attn_temp_scale, 0, `Qcur_attn_temp_scaled-${il}`);
    }
    // MQA over the compressed cache: V is each cached row's latent part
    if (!c.inpKvRows) throw new Error('attention over a KV cache needs the batch rows\' sequences (inpKvRows)');
    const kqv = ops.attention(qCur, kCur, null, c.inpPos, c.inpKvRows, c.cache[il]!, {
      nHead, nHeadKv: 1, headDim: rank + nRot, headDimV: rank, kqScale: deepseek2KqScale(hp, o.mscale),
    }, `kqv-${il}`);
    // each head's latent output decompressed by its v_b: [value_length_mla, n_head, n_tokens]
    const decompressed = ops.matmulPerHead(c.w(`${p}.attn_v_b.weight`), ops.heads(kqv, rank), `kqv_mla-${il}`);
    const vRow = nHead * hp.n_embd_head_v_mla;
    const merged = ops.g.view(decompressed, `kqv_out-${il}`, [vRow, nTok], 0, vRow * 4);
    return ops.matmul(c.w(`${p}.attn_output.weight`), merged, `attn_out-${il}`);
  };
}

/** The deepseek2 graph, or (for tests) a variant with some of its features off. */
export function deepseek2Graph(o: Deepseek2Options = DEEPSEEK2) {
  return (c: BuildContext) => {
    const hp = c.hp;
    const moe: MoeOptions = { normWeights: hp.expert_weights_norm, weightsScale: hp.expert_weights_scale, gating: deepseek2Gating(hp) };
    return buildDecoder(c, {
      attentionBlock: mlaAttention(o),
      ffn: moeOrDense(moe, o.sharedExperts ? sharedExpert : undefined),
    });
  };
}

export const buildDeepseek2 = deepseek2Graph();

function key(hp: HParams, k: string): string {
  return `${hp.arch}.${k}`;
}

/** The file's MLA settings, checked as llama.cpp's loader and graph need them. */
function checkMla(hp: HParams, file: FileTensors): void {
  const fail = (what: string, k: string) => { throw new ModelError(what, file.path, key(hp, k)); };
  if (!isMla(hp)) {
    fail(`${hp.arch} without attention.key_length_mla/value_length_mla (an older file with the unsplit attn_kv_b): ` +
      'run-gguf runs only the compressed-cache layout; re-convert it with a current convert_hf_to_gguf.py', 'attention.key_length_mla');
  }
  if (!(hp.n_lora_kv > 0)) fail(`${hp.arch} needs attention.kv_lora_rank > 0`, 'attention.kv_lora_rank');
  if (hp.n_head_kv !== 1) fail(`${hp.arch}'s compressed cache has one kv head, the file says ${hp.n_head_kv}`, 'attention.head_count_kv');
  if (hp.n_embd_head_k !== hp.n_lora_kv + hp.n_rot) fail(`attention.key_length = ${hp.n_embd_head_k}, expected kv_lora_rank + rope.dimension_count = ${hp.n_lora_kv + hp.n_rot}`, 'attention.key_length');
  if (hp.n_embd_head_v !== hp.n_lora_kv) fail(`attention.value_length = ${hp.n_embd_head_v}, expected kv_lora_rank = ${hp.n_lora_kv}`, 'attention.value_length');
  if (!(hp.n_embd_head_k_mla > hp.n_rot)) fail(`attention.key_length_mla = ${hp.n_embd_head_k_mla} leaves no dims without rope (rope.dimension_count ${hp.n_rot})`, 'attention.key_length_mla');
  if (hp.n_rot % 2 !== 0) fail(`rope.dimension_count = ${hp.n_rot} is odd`, 'rope.dimension_count');
  if (hp.f_attn_temp_scale !== 0 && !(hp.n_attn_temp_floor_scale > 0)) fail('attention.temperature_scale needs attention.temperature_length > 0', 'attention.temperature_length');
}

const deepseek2Tensors: DeclareTensors = (hp, file) => {
  checkMla(hp, file);
  const D = dims(hp);
  const anyMoe = hp.n_layer_dense_lead < hp.n_layer;
  if (anyMoe) {
    if (!(hp.n_expert > 0)) throw new ModelError(`${hp.arch} needs expert_count > 0 for its MoE layers`, file.path, key(hp, 'expert_count'));
    if (!(hp.n_ff_exp > 0)) throw new ModelError(`${hp.arch} needs expert_feed_forward_length`, file.path, key(hp, 'expert_feed_forward_length'));
    if (!(hp.n_expert_shared > 0)) throw new ModelError(`${hp.arch} needs expert_shared_count > 0 (its MoE layers have shared experts)`, file.path, key(hp, 'expert_shared_count'));
    if (hp.expert_gating_func > 2) throw new ModelError(`expert_gating_func = ${hp.expert_gating_func}: deepseek2 runs softmax (1) or sigmoid (2)`, file.path, key(hp, 'expert_gating_func'));
  }
  const rank = dim('kv_lora_rank', hp.n_lora_kv);
  const qRank = dim('q_lora_rank', hp.n_lora_q);
  const q = dim('n_head*key_length_mla', hp.n_head * hp.n_embd_head_k_mla);
  const nope = dim('key_length_mla-n_rot', hp.n_embd_head_k_mla - hp.n_rot);
  const vMla = dim('value_length_mla', hp.n_embd_head_v_mla);
  const nFFExp = dim('n_ff_exp', hp.n_ff_exp);
  const nFFShared = dim('n_ff_exp*n_expert_shared', hp.n_ff_exp * hp.n_expert_shared);
  const moeLayer = (p: string): TensorDecl[] => [
    ...experts(p, D, nFFExp),
    opt(`${p}.exp_probs_b.bias`, D.n_expert),
    ...ffn(p, D, { gate: 'separate', n_ff: nFFShared, suffix: '_shexp' }),
  ];
  return [
    ...embeddingsAndHead(D, { output: 'optional' }),
    ...layers(hp, (p, il) => [
      ...norm(`${p}.attn_norm`, D),
      ...(hp.n_lora_q > 0
        ? [req(`${p}.attn_q_a_norm.weight`, qRank), req(`${p}.attn_q_a.weight`, D.n_embd, qRank), req(`${p}.attn_q_b.weight`, qRank, q)]
        : [req(`${p}.attn_q.weight`, D.n_embd, q)]),
      req(`${p}.attn_kv_a_norm.weight`, rank),
      req(`${p}.attn_kv_a_mqa.weight`, D.n_embd, dim('kv_lora_rank+n_rot', hp.n_lora_kv + hp.n_rot)),
      req(`${p}.attn_k_b.weight`, nope, rank, D.n_head),
      req(`${p}.attn_v_b.weight`, rank, vMla, D.n_head),
      req(`${p}.attn_output.weight`, dim('n_head*value_length_mla', hp.n_head * hp.n_embd_head_v_mla), D.n_embd),
      ...norm(`${p}.ffn_norm`, D),
      ...(il < hp.n_layer_dense_lead ? ffn(p, D, { gate: 'separate' }) : moeLayer(p)),
    ]),
  ];
};

export const deepseek2: Architecture = { build: buildDeepseek2, tensors: deepseek2Tensors };
