// Rotary embeddings and attention: over the KV cache (the only ops that read
// it, each row in its own sequence's block) or among the batch's tokens
// (encoders), with the cache's and the attention's parameter types.
import { GGMLType, ggmlTypeInfo } from '../../../formats/ggml-types.js';
import type { KvCacheType } from '../../options.js';
import { elementCount, type Tensor } from '../graph.js';
import { NULL, at } from './core.js';
import { MatmulOps } from './matmul.js';

export interface RopeParams {
  nRot: number;
  /** 0 = NORM (adjacent pairs, llama), 2 = NEOX (halves). */
  mode: number;
  nCtxOrig: number;
  freqBase: number;
  freqScale: number;
  extFactor: number;
  attnFactor: number;
  betaFast: number;
  betaSlow: number;
  /** rope_freqs (llama3) / long-rope factors: a weight tensor of n_rot/2 floats. */
  freqFactors?: Tensor;
}

export interface AttentionParams {
  nHead: number;
  nHeadKv: number;
  headDim: number;
  /** Width of V and of each head's output; default headDim. */
  headDimV?: number;
  kqScale: number;
  /** 0 for none (gemma2 uses a soft-cap). */
  softcap?: number;
  /** Sliding window: 0 for none. */
  nSwa?: number;
  /** nSwa is llama 4's chunk size (a token sees its own chunk of nSwa positions, up to itself), not a sliding window. */
  chunked?: boolean;
  /** false: every token sees every cell in use (encoders); default true. */
  causal?: boolean;
  /** Attention sinks: f32 [n_head], one learned logit per query head joining its softmax (gpt-oss). */
  sinks?: Tensor;
}

/** The types a K or V cache can have, by llama.cpp's --cache-type-k/-v names. */
export const KV_CACHE_TYPES: Readonly<Record<KvCacheType, GGMLType>> = { f16: GGMLType.F16, q8_0: GGMLType.Q8_0 };
export type { KvCacheType };

/**
 * The f16 KV cache of one layer for every sequence of a context: k and v are
 * [head_dim, n_ctx, n_head_kv, n_seq] each, so one sequence's part is a
 * contiguous [n_head_kv][n_ctx][head_dim] block. Which block a batch row
 * writes and reads is data (the kv rows input, see Ops.attention), so one
 * graph serves every sequence and every mix of sequences in a batch.
 */
export interface LayerCache {
  k: Tensor;
  /**
   * The V cache, or k itself: multi-head latent attention (deepseek2) caches
   * one row per token, the compressed latent then the rope key, and reads V
   * as the first headDimV values of each K row (llama.cpp's K-only cache).
   */
  v: Tensor;
  /** Cells per sequence. */
  nCtx: number;
}

export class AttentionOps extends MatmulOps {
  /** Rotary embedding of [head_dim, n_head, n_tokens] rows (views of a fused qkv allowed). */
  rope(x: Tensor, pos: Tensor, nHead: number, headDim: number, r: RopeParams, name: string): Tensor {
    const nTok = elementCount(x.ne) / (nHead * headDim);
    const out = this.g.f32(name, [headDim, nHead, nTok]);
    const xs = (x.rowStride ?? nHead * headDim * 4) / 4;
    return this.g.add({
      name, inputs: r.freqFactors ? [x, pos, r.freqFactors] : [x, pos], output: out,
      phases: [this.rowsPhase(nTok * nHead, [pos, r.freqFactors], 'rope_f32', at(x), at(out), at(pos), r.freqFactors ? at(r.freqFactors) : NULL,
        nTok, nHead, headDim, xs, nHead * headDim, r.nRot, r.mode, r.nCtxOrig, r.freqBase, r.freqScale,
        r.extFactor, r.attnFactor, r.betaFast, r.betaSlow)],
    });
  }

  /**
   * Stores k and v of this batch in the layer's f16 cache, each row at its
   * position in its own sequence's block, then attends q over the cells in
   * use with the causal (and sliding-window) mask given by positions.
   * `kvRows` (int32 [2, n_tokens]) is read at run time: row t's sequence slot
   * and the cells that sequence has in use after this batch. So one graph per
   * batch shape serves one sequence or many at different lengths, and a
   * row's result depends only on its own q and its sequence's cells.
   * Returns [n_head*head_dim, n_tokens].
   */
  attention(q: Tensor, k: Tensor | null, v: Tensor | null, pos: Tensor, kvRows: Tensor, cache: LayerCache, a: AttentionParams, name: string): Tensor {
    const nTok = elementCount(q.ne) / (a.nHead * a.headDim);
    if (kvRows.ne[0] !== 2 || kvRows.ne[1] !== nTok) throw new Error(`${name}: kv rows [${kvRows.ne}] for ${nTok} tokens`);
    const dv = a.headDimV ?? a.headDim;
    // V inside the K cache: nothing of its own to store, rows of headDim values
    const vInK = cache.v === cache.k;
    // no k: attend over what an earlier layer of this graph stored (gemma 3n's KV sharing), store nothing
    if (k === null ? v !== null : vInK ? v !== null || dv > a.headDim : v === null) throw new Error(`${name}: V ${k === null ? 'without K' : vInK ? 'is read from the K cache' : 'is missing'}`);
    const out = this.g.f32(name, [a.nHead * dv, nTok]);
    const wsizeFn = this.k.lookup<(...x: number[]) => number>('attention_kv_wsize');
    if (!wsizeFn) throw new Error('kernels lack attention_kv_wsize');
    // per tile, not per sequence: one graph serves every n_past
    const wsize = Number(wsizeFn(a.nHead, a.nHeadKv, a.headDim, dv, this.attentionTile));
    const kvRow = a.nHeadKv * a.headDim;
    // K and V caches in f16 or q8_0 (llama.cpp's --cache-type-k/-v q8_0)
    const kQ8 = cache.k.type === GGMLType.Q8_0, vQ8 = cache.v.type === GGMLType.Q8_0;
    for (const [which, t] of [['K', cache.k.type], ['V', cache.v.type]] as const) {
      if (t !== GGMLType.Q8_0 && t !== GGMLType.F16) throw new Error(`${name}: ${which} cache type ${ggmlTypeInfo(t)?.name} has no kernel`);
    }
    if (kQ8 && a.headDim % 32 !== 0) throw new Error(`${name}: a q8_0 K cache needs head_dim a multiple of 32, got ${a.headDim}`);
    if (vQ8 && dv % 32 !== 0) throw new Error(`${name}: a q8_0 V cache needs head_dim_v a multiple of 32, got ${dv}`);
    const qs = (q.rowStride ?? a.nHead * a.headDim * 4) / 4;
    if (kQ8 && vInK) throw new Error(`${name}: V read inside a q8_0 K cache (multi-head latent attention needs an f16 cache)`);
    const store = (type: GGMLType) => (type === GGMLType.Q8_0 ? 'kv_store_q8_0' : 'kv_store_f16');
    const stores = k ? [this.rowsPhase(nTok * a.nHeadKv, [pos, kvRows], store(cache.k.type), at(k), at(cache.k), at(pos), at(kvRows), nTok, a.nHeadKv, a.headDim, (k.rowStride ?? kvRow * 4) / 4, cache.nCtx)] : [];
    if (v) stores.push(this.rowsPhase(nTok * a.nHeadKv, [pos, kvRows], store(cache.v.type), at(v), at(cache.v), at(pos), at(kvRows), nTok, a.nHeadKv, dv, (v.rowStride ?? a.nHeadKv * dv * 4) / 4, cache.nCtx));
    return this.g.add({
      name, inputs: [q, ...(k ? [k] : []), ...(v ? [v] : []), pos, kvRows, cache.k, ...(vInK ? [] : [cache.v]), ...(a.sinks ? [a.sinks] : [])], output: out,
      scratchBytes: wsize * this.nThreads,
      phases: [
        ...stores,
        this.phase('attention_kv', at(q), at(cache.k), at(cache.v), at(out), a.causal === false ? NULL : at(pos), at(kvRows), nTok,
          a.nHead, a.nHeadKv, a.headDim, dv, vInK ? a.headDim : dv, qs, cache.nCtx, a.kqScale, a.softcap ?? 0, a.nSwa ?? 0, a.chunked ? 1 : 0,
          a.sinks ? at(a.sinks) : NULL, (kQ8 ? 1 : 0) | (vQ8 ? 2 : 0), this.attentionTile, { scratch: 0 }),
      ],
    });
  }

  /**
   * Attention among the tokens of this batch, no KV cache, all in f32
   * (llama.cpp's no-cache path for encoders). `seqRange` (int32 [2, n_tokens]:
   * first and last batch row of each token's sequence) lets several
   * sequences share a batch; null: one sequence. Causal unless a.causal is
   * false. q, k, v may be views into a fused qkv. Returns [n_head*head_dim, n_tokens].
   */
  attentionNoCache(q: Tensor, k: Tensor, v: Tensor, seqRange: Tensor | null, a: AttentionParams, name: string): Tensor {
    const nTok = elementCount(q.ne) / (a.nHead * a.headDim);
    const out = this.g.f32(name, [a.nHead * a.headDim, nTok]);
    const wsizeFn = this.k.lookup<(n: number) => number>('attention_f32_wsize');
    if (!wsizeFn) throw new Error('kernels lack attention_f32_wsize; rebuild wasm/kernels.wasm');
    if (a.softcap || a.nSwa || a.sinks) throw new Error(`${name}: no soft-cap, sliding window or sinks without a KV cache`);
    const kvRow = a.nHeadKv * a.headDim;
    const qs = (q.rowStride ?? a.nHead * a.headDim * 4) / 4;
    const ks = (k.rowStride ?? kvRow * 4) / 4;
    const vs = (v.rowStride ?? kvRow * 4) / 4;
    return this.g.add({
      name, inputs: seqRange ? [q, k, v, seqRange] : [q, k, v], output: out,
      scratchBytes: Number(wsizeFn(nTok)) * this.nThreads,
      phases: [this.phase('attention_f32', at(q), at(k), at(v), at(out), seqRange ? at(seqRange) : NULL, nTok, a.nHead, a.nHeadKv,
        a.headDim, qs, ks, vs, a.kqScale, a.causal === false ? 0 : 1, { scratch: 0 })],
    });
  }

  /**
   * Each token's row of x times 1 + tempScale * ln(floor((pos + offset) /
   * floorScale) + 1), pos being the token's position (int32 [n_tokens]):
   * llama 4's attention temperature (llama.cpp's build_inp_attn_scale and
   * the ggml_mul of q by it). x is [n, n_tokens].
   */
  attnTempScale(x: Tensor, pos: Tensor, floorScale: number, tempScale: number, offset: number, name: string): Tensor {
    const rows = pos.ne[0]!;
    const n = elementCount(x.ne) / rows;
    if (x.rowStride !== undefined && x.rowStride !== x.ne[0]! * 4) throw new Error(`${name}: temperature scale of a strided view`);
    if (!Number.isInteger(floorScale) || floorScale < 1) throw new Error(`${name}: floor scale ${floorScale}`);
    const out = this.g.f32(name, x.ne);
    return this.g.add({
      name, inputs: [x, pos], output: out,
      phases: [this.phase('attn_temp_scale_f32', at(x), at(pos), at(out), n, rows, floorScale, tempScale, offset)],
    });
  }
}
