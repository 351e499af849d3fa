// The ops an architecture composes. Each op is a list of phases, and each
// phase one call of an exported kernel that does thread ith's share of nth,
// so the same graph runs on one core or many; barriers separate phases.
import { GGMLType, ggmlTypeInfo, rowSize } from '../../formats/ggml-types.js';
import { WEIGHT_TYPES, kernelSpec } from '../../wasm/kernel-table.js';
import type { Kernels } from '../../wasm/loader.js';
import { UnsupportedError } from '../errors.js';
import { Graph, elementCount, type Arg, type Phase, type Tensor } from './graph.js';

import { MAX_THREADS, type KvCacheType } from '../options.js';

export { MAX_THREADS };

/** The exported kernel converting f32 activation rows to each vec_dot_type. */
const CONVERT_ROWS: Partial<Record<GGMLType, string>> = {
  [GGMLType.F16]: 'convert_rows_f16',
  [GGMLType.BF16]: 'convert_rows_bf16',
  [GGMLType.Q8_0]: 'convert_rows_q8_0',
  [GGMLType.Q8_1]: 'convert_rows_q8_1',
  [GGMLType.Q8_K]: 'convert_rows_q8_K',
};

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

/**
 * The f16 KV cache of one layer for every sequence of a context: k and v are
 * [head_dim, n_ctx, n_head_kv, n_seq] each, so one sequence's part is a
 * contiguous [n_head_kv][n_ctx][head_dim] block. Which block a batch row
 * writes and reads is data (the kv rows input, see Ops.attention), so one
 * graph serves every sequence and every mix of sequences in a batch.
 */
/**
 * KV cells attention streams per tile (kernels/ops-attention.c): a row of at
 * most this many cells is computed exactly as llama.cpp's non-flash path, a
 * longer one merges tiles as flash attention does. 256 cells keep one tile's
 * K and V rows of a 128-wide head (64 KiB each in f16) within L2.
 */
export const DEFAULT_ATTENTION_TILE = 256;

/** The types a K or V cache can have, by llama.cpp's --cache-type-k/-v names. */
export const KV_CACHE_TYPES: Readonly<Record<KvCacheType, GGMLType>> = { f16: GGMLType.F16, q8_0: GGMLType.Q8_0 };
export type { KvCacheType };

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

/**
 * The recurrent state of one layer for every sequence of a context (lfm2's
 * short convolutions, Mamba-2, the gated delta net): f32 tensors
 * [n_embd_r, 1, 1, n_seq] (the rolling convolution inputs, llama.cpp's r_l)
 * and [n_embd_s, 1, 1, n_seq] (the SSM state, s_l; absent when the layer has
 * none). Like the KV cache, each batch row's block is data: the kernels read
 * the row's sequence slot from the kv rows input, so the rows of several
 * sequences may share a run (each sequence's rows in order). Unlike the KV
 * cache, a state holds no positions: the context zeroes a sequence's blocks
 * when it starts over.
 */
export interface LayerState {
  r: Tensor;
  s?: Tensor;
}

function checkKvRows(kvRows: Tensor, nTok: number, name: string): void {
  if (kvRows.type !== GGMLType.I32 || kvRows.ne[0] !== 2 || kvRows.ne[1] !== nTok) throw new Error(`${name}: kv rows [${kvRows.ne}] for ${nTok} tokens`);
}

/** Floats of one sequence's block of a per-sequence state tensor ([..., n_seq]). */
function perSeqFloats(t: Tensor): number {
  if (t.type !== GGMLType.F32) throw new Error(`${t.name}: a recurrent state must be f32`);
  return elementCount(t.ne.slice(0, 3));
}

const at = (tensor: Tensor, offset = 0): Arg => ({ tensor, offset });
/** Refuses strided views where a kernel reads rows back to back. */
function contiguous(name: string, ...xs: Tensor[]): void {
  for (const x of xs) if (x.rowStride !== undefined && x.rowStride !== x.ne[0]! * 4) throw new Error(`${name}: ${x.name} is a strided view`);
}

const NULL = 0;

/**
 * Graph-building helpers. Shapes follow ggml: an activation of n_tokens rows
 * of n floats is ne = [n, n_tokens].
 */
export class Ops {
  /**
   * nThreads: the threads the graph will run on; ops whose threads each need
   * their own scratch (attention) size it for that many. A runner running
   * the plan on more threads than it was built for would write past it, so
   * GraphRunner builds every graph for its own pool. attentionTile: KV
   * cells attention streams per tile (DEFAULT_ATTENTION_TILE).
   */
  constructor(readonly g: Graph, readonly k: Kernels, readonly nThreads = 1, readonly attentionTile = DEFAULT_ATTENTION_TILE) {
    if (!Number.isInteger(nThreads) || nThreads < 1 || nThreads > MAX_THREADS) throw new RangeError(`threads must be 1..${MAX_THREADS}, got ${nThreads}`);
    if (!Number.isInteger(attentionTile) || attentionTile < 1) throw new RangeError(`attentionTile must be a positive integer, got ${attentionTile}`);
  }

  /**
   * Called by matmul with its weight and f32 input before the product is
   * added, so that it may add ops reading x (runtime/imatrix collects
   * activation statistics this way). Unset: matmul is unchanged.
   */
  matmulObserver?: (ops: Ops, w: Tensor, x: Tensor, nTokens: number) => void;

  /**
   * The LoRA adapters of a weight (runtime/lora.ts): matmul adds
   * scale * B (A x) for each, after the product, as llama.cpp's build_lora_mm.
   * Unset: no adapters.
   */
  lora?: (w: Tensor) => readonly { a: Tensor; b: Tensor; scale: number }[] | undefined;

  /**
   * One call of kernel fn. loadKernels has checked every kernel of the table
   * is in the build, so a missing one is a weight type (the tensor among the
   * args) that kernels/ has no kernel for, or a relaxed-SIMD layout on a
   * baseline instance. The argument count is checked by Graph.add, which
   * knows the op's name.
   */
  private phase(fn: string, ...args: Arg[]): Phase {
    if (!this.k.lookup(fn)) {
      const t = args.find((a): a is { tensor: Tensor } => typeof a === 'object' && 'tensor' in a)?.tensor;
      if (kernelSpec(fn) || !t) throw new Error(`kernel ${fn} is not in this instance (${this.k.simd} SIMD)`);
      const type = ggmlTypeInfo(t.type)?.name.toUpperCase() ?? `type ${t.type}`;
      throw new UnsupportedError(`${t.name} is ${type}, a weight type run-gguf does not support ` +
        `(it has kernels for ${WEIGHT_TYPES.map((w) => w.toUpperCase()).join(', ')})`, t.name, type);
    }
    return { fn, args };
  }

  /** Rows of a token embedding table (any weight type) for int32 ids. */
  getRows(table: Tensor, ids: Tensor, name = 'inp_embd'): Tensor {
    if (table.layout) throw new Error(`${name}: ${table.name} was repacked (${table.layout}) for matmuls and cannot be read by row`);
    const n = table.ne[0]!;
    const nIds = elementCount(ids.ne);
    const out = this.g.f32(name, [n, nIds]);
    const phase = table.type === GGMLType.F32 || table.type === GGMLType.F16
      ? this.phase(table.type === GGMLType.F32 ? 'get_rows_f32' : 'get_rows_f16', at(table), at(ids), at(out), nIds, n)
      : this.phase(`get_rows_q_${ggmlTypeInfo(table.type)!.name}`, at(table), rowSize(table.type, n), at(ids), at(out), nIds, n);
    return this.g.add({ name, inputs: [table, ids], output: out, phases: [phase] });
  }

  /** y = x / rms(x) * w  (w optional): llama's RMSNorm. */
  rmsNorm(x: Tensor, w: Tensor | null, eps: number, name: string): Tensor {
    const [n, rows] = [x.ne[0]!, elementCount(x.ne) / x.ne[0]!];
    const out = this.g.f32(name, x.ne);
    return this.g.add({
      name, inputs: w ? [x, w] : [x], output: out,
      phases: [this.phase('rms_norm_f32', at(x), at(out), w ? at(w) : NULL, rows, n, eps)],
    });
  }

  /** LayerNorm: (x - mean) / sqrt(var + eps) * w + b (w, b optional). */
  norm(x: Tensor, w: Tensor | null, b: Tensor | null, eps: number, name: string): Tensor {
    const [n, rows] = [x.ne[0]!, elementCount(x.ne) / x.ne[0]!];
    const out = this.g.f32(name, x.ne);
    return this.g.add({
      name, inputs: [x, ...(w ? [w] : []), ...(b ? [b] : [])], output: out,
      phases: [this.phase('norm_f32', at(x), at(out), w ? at(w) : NULL, b ? at(b) : NULL, rows, n, eps)],
    });
  }

  /** Each input matmul has converted to a vec_dot_type, by type (see convertedInput). */
  private readonly converted = new Map<Tensor, Map<GGMLType, Tensor>>();

  /**
   * x as rows of vdt (quantize_row_q8_K and co.), converted once per graph:
   * the matmuls of one input (attn_q, attn_k, attn_v; ffn_gate, ffn_up) share
   * it, as they would share ggml's wdata if it were kept between ops. Each
   * conversion is a phase, so a barrier between threads, and a pass over x.
   */
  private convertedInput(x: Tensor, vdt: GGMLType, nIn: number, nTok: number, name: string): Tensor {
    let byType = this.converted.get(x);
    const done = byType?.get(vdt);
    if (done) return done;
    const convert = CONVERT_ROWS[vdt];
    if (!convert) throw new Error(`${name}: no activation converter for ${ggmlTypeInfo(vdt)!.name}`);
    const qx = this.g.tensor({ name: `${name}.${ggmlTypeInfo(vdt)!.name}_input`, type: vdt, ne: [nIn, nTok], kind: 'intermediate' });
    this.g.add({ name: `${name}.convert`, inputs: [x], output: qx,
      phases: [this.phase(convert, at(x), x.rowStride ?? nIn * 4, at(qx), rowSize(vdt, nIn), nIn, nTok)] });
    if (!byType) this.converted.set(x, byType = new Map());
    byType.set(vdt, qx);
    return qx;
  }

  /**
   * out = W x for each token row (ggml_mul_mat(W, x)): the activation is first
   * converted to the weight type's vec_dot_type (as ggml does, so results track
   * llama.cpp; once per input, convertedInput), then each thread computes a
   * slice of the output rows.
   */
  matmul(w: Tensor, x: Tensor, name: string): Tensor {
    const nIn = w.ne[0]!;
    const nOut = w.ne[1]!;
    if (x.ne[0] !== nIn) throw new Error(`${name}: ${w.name} expects rows of ${nIn}, got ${x.ne[0]}`);
    const nTok = elementCount(x.ne) / nIn;
    this.matmulObserver?.(this, w, x, nTok);
    const out = this.g.f32(name, [nOut, nTok]);
    const info = ggmlTypeInfo(w.type)!;
    const vdt = info.vecDotType;
    if (vdt === null) throw new Error(`${name}: ${w.name} has type ${info.name}, which is not a matmul weight`);
    const phases: Phase[] = [];
    let input = x;
    let actRow = x.rowStride ?? nIn * 4;
    if (vdt !== GGMLType.F32) {
      input = this.convertedInput(x, vdt, nIn, nTok, name);
      actRow = rowSize(vdt, nIn);
    }
    phases.push(this.phase(`mat_rows_${w.layout ?? info.name}`, at(w), rowSize(w.type, nIn), at(input), actRow, at(out), nOut, nIn, nTok, nOut));
    let res = this.g.add({ name, inputs: [w, input], output: out, phases });
    this.lora?.(w)?.forEach((l, i) => {
      const ab = this.matmul(l.b, this.matmul(l.a, x, `${name}.lora${i}_a`), `${name}.lora${i}_b`);
      res = this.add(res, this.scale(ab, l.scale, `${name}.lora${i}_scaled`), `${name}.lora${i}`);
    });
    return res;
  }

  /** Element-wise a + b, b broadcast by rows (a bias row, or a whole tensor of a's shape). */
  add(a: Tensor, b: Tensor, name: string): Tensor {
    return this.binary('add_f32', a, b, name);
  }

  mul(a: Tensor, b: Tensor, name: string): Tensor {
    return this.binary('mul_f32', a, b, name);
  }

  private binary(kernel: string, a: Tensor, b: Tensor, name: string): Tensor {
    const n = a.ne[0]!;
    const rows = elementCount(a.ne) / n;
    const bRows = elementCount(b.ne) / n;
    if (b.ne[0] !== n || rows % bRows !== 0) throw new Error(`${name}: cannot broadcast [${b.ne}] over [${a.ne}]`);
    const strided = (t: Tensor) => t.rowStride !== undefined && t.rowStride !== n * 4;
    if (strided(a) || strided(b)) {
      // views into a fused projection (lfm2's b, c, x): row by row, no broadcast
      if (kernel !== 'mul_f32' || bRows !== rows) throw new Error(`${name}: ${kernel} of strided views`);
      const out = this.g.f32(name, [n, rows]);
      return this.g.add({
        name, inputs: [a, b], output: out,
        phases: [this.phase('mul_rows_f32', at(a), (a.rowStride ?? n * 4) / 4, at(b), (b.rowStride ?? n * 4) / 4, at(out), rows, n)],
      });
    }
    const out = this.g.f32(name, a.ne);
    return this.g.add({ name, inputs: [a, b], output: out, phases: [this.phase(kernel, at(a), at(b), at(out), rows, n, bRows)] });
  }

  /** y = act(gate) * up: 'silu' (SwiGLU) or 'gelu' (GeGLU). */
  glu(kind: 'silu' | 'gelu', gate: Tensor, up: Tensor, name: string): Tensor {
    const n = gate.ne[0]!;
    const rows = elementCount(gate.ne) / n;
    const out = this.g.f32(name, [n, rows]);
    const gs = (gate.rowStride ?? n * 4) / 4;
    const us = (up.rowStride ?? n * 4) / 4;
    return this.g.add({
      name, inputs: [gate, up], output: out,
      phases: [this.phase(kind === 'silu' ? 'swiglu_f32' : 'geglu_f32', at(gate), at(up), at(out), rows, n, gs, us)],
    });
  }

  /**
   * gpt-oss's clamped GLU (ggml_swiglu_oai): min(gate, limit) times
   * sigmoid(alpha * that), times clamp(up, -limit, limit) + 1.
   */
  swigluOai(gate: Tensor, up: Tensor, alpha: number, limit: number, name: string): Tensor {
    const n = gate.ne[0]!;
    const rows = elementCount(gate.ne) / n;
    const out = this.g.f32(name, gate.ne);
    const gs = (gate.rowStride ?? n * 4) / 4;
    const us = (up.rowStride ?? n * 4) / 4;
    return this.g.add({
      name, inputs: [gate, up], output: out,
      phases: [this.phase('swiglu_oai_f32', at(gate), at(up), at(out), rows, n, gs, us, alpha, limit)],
    });
  }

  /** Rotary embedding of [head_dim, n_head, n_tokens] rows (views of a fused qkv allowed). */
  rope(x: Tensor, pos: Tensor, nHead: number, headDim: number, r: RopeParams, name: string): Tensor {
    const nTok = elementCount(x.ne) / (nHead * headDim);
    const out = this.g.f32(name, [headDim, nHead, nTok]);
    const xs = (x.rowStride ?? nHead * headDim * 4) / 4;
    return this.g.add({
      name, inputs: r.freqFactors ? [x, pos, r.freqFactors] : [x, pos], output: out,
      phases: [this.phase('rope_f32', at(x), at(out), at(pos), r.freqFactors ? at(r.freqFactors) : NULL,
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
    const stores = k ? [this.phase(store(cache.k.type), at(k), at(cache.k), at(pos), at(kvRows), nTok, a.nHeadKv, a.headDim, (k.rowStride ?? kvRow * 4) / 4, cache.nCtx)] : [];
    if (v) stores.push(this.phase(store(cache.v.type), at(v), at(cache.v), at(pos), at(kvRows), nTok, a.nHeadKv, dv, (v.rowStride ?? a.nHeadKv * dv * 4) / 4, cache.nCtx));
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

  /** A contiguous [n_head*head_dim, n_tokens] tensor seen as [head_dim, n_head*n_tokens] rows (per-head ops). */
  heads(x: Tensor, headDim: number): Tensor {
    if (x.rowStride !== undefined && x.rowStride !== x.ne[0]! * 4) throw new Error(`${x.name}: per-head view of a strided tensor`);
    return this.g.view(x, `${x.name}-heads`, [headDim, elementCount(x.ne) / headDim], 0, headDim * 4);
  }

  /**
   * The rows of x named by `rows` (int32 [n], batch row indices read at run
   * time): the rows that need logits, wherever in the batch their sequences
   * put them (llama.cpp's inp_out_ids). A copy, so no bits change.
   */
  selectRows(x: Tensor, rows: Tensor, name: string): Tensor {
    if (x.type !== GGMLType.F32 || (x.rowStride !== undefined && x.rowStride !== x.ne[0]! * 4)) throw new Error(`${name}: rows of a strided or non-f32 tensor`);
    const n = x.ne[0]!;
    const nRows = elementCount(rows.ne);
    const out = this.g.f32(name, [n, nRows]);
    return this.g.add({ name, inputs: [x, rows], output: out, phases: [this.phase('get_rows_f32', at(x), at(rows), at(out), nRows, n)] });
  }

  /** y = cap * tanh(x / cap): gemma2's final logit soft-capping (ggml scale, tanh, scale). */
  softcap(x: Tensor, cap: number, name: string): Tensor {
    const out = this.g.f32(name, x.ne);
    if (x.rowStride !== undefined && x.rowStride !== x.ne[0]! * 4) throw new Error(`${name}: softcap of a strided view`);
    return this.g.add({ name, inputs: [x], output: out, phases: [this.phase('softcap_f32', at(x), at(out), elementCount(x.ne), cap)] });
  }

  /** y = x * s (ggml_scale). */
  scale(x: Tensor, s: number, name: string): Tensor {
    const out = this.g.f32(name, x.ne);
    if (x.rowStride !== undefined && x.rowStride !== x.ne[0]! * 4) throw new Error(`${name}: scale of a strided view`);
    return this.g.add({ name, inputs: [x], output: out, phases: [this.phase('scale_f32', at(x), at(out), elementCount(x.ne), s)] });
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

  /** 1 / (1 + e^-x) element-wise (ggml_sigmoid: a router's sigmoid gating). */
  sigmoid(x: Tensor, name: string): Tensor {
    const out = this.g.f32(name, x.ne);
    if (x.rowStride !== undefined && x.rowStride !== x.ne[0]! * 4) throw new Error(`${name}: sigmoid of a strided view`);
    return this.g.add({ name, inputs: [x], output: out, phases: [this.phase('sigmoid_f32', at(x), at(out), elementCount(x.ne))] });
  }

  /** Rows of a then rows of b side by side (ggml_concat on dimension 0); either may be a strided view. */
  concat(a: Tensor, b: Tensor, name: string): Tensor {
    const [na, nb] = [a.ne[0]!, b.ne[0]!];
    const rows = elementCount(a.ne) / na;
    if (elementCount(b.ne) / nb !== rows) throw new Error(`${name}: ${rows} rows of ${a.name} and ${elementCount(b.ne) / nb} of ${b.name}`);
    const out = this.g.f32(name, [na + nb, ...a.ne.slice(1)]);
    return this.g.add({
      name, inputs: [a, b], output: out,
      phases: [this.phase('concat_f32', at(a), (a.rowStride ?? na * 4) / 4, na, at(b), (b.rowStride ?? nb * 4) / 4, nb, at(out), rows)],
    });
  }

  /** A strided view copied into contiguous rows (ggml_cont), for ops that read rows back to back. */
  cont(x: Tensor, name: string): Tensor {
    const n = x.ne[0]!;
    const rows = elementCount(x.ne) / n;
    const out = this.g.f32(name, x.ne);
    // a concat with nothing on the right
    return this.g.add({ name, inputs: [x], output: out, phases: [this.phase('concat_f32', at(x), (x.rowStride ?? n * 4) / 4, n, at(x), 0, 0, at(out), rows)] });
  }

  /**
   * A batched matmul, one matrix per head: w is [n_in, n_out, n_head], x
   * [n_in, n_head, n_tokens] (rows may be strided); head h of each token
   * times matrix h, giving [n_out, n_head, n_tokens] (ggml_mul_mat of a 3-D
   * weight, as MLA's attn_k_b / attn_v_b are applied). It runs as the
   * experts' matmul with every token choosing expert h for slot h.
   */
  matmulPerHead(w: Tensor, x: Tensor, name: string): Tensor {
    const nHead = w.ne[2] ?? 1;
    const nTok = elementCount(x.ne) / (x.ne[0]! * nHead);
    if (!Number.isInteger(nTok)) throw new Error(`${name}: ${x.name} is not rows of ${nHead} heads`);
    const ids = this.g.tensor({ name: `${name}_heads`, type: GGMLType.I32, ne: [nHead, nTok], kind: 'intermediate' });
    this.g.add({ name: `${name}_heads`, inputs: [], output: ids, phases: [this.phase('iota_rows_i32', at(ids), nHead, nTok)] });
    return this.matmulId(w, x, ids, name);
  }

  /** ggml_gelu as ggml's CPU backend computes it (tanh approximation through an f16 table; kernels/ops-unary.c). */
  gelu(x: Tensor, name: string): Tensor {
    const out = this.g.f32(name, x.ne);
    if (x.rowStride !== undefined && x.rowStride !== x.ne[0]! * 4) throw new Error(`${name}: gelu of a strided view`);
    return this.g.add({ name, inputs: [x], output: out, phases: [this.phase('gelu_f32', at(x), at(out), elementCount(x.ne))] });
  }

  // ---- gemma 3n (kernels/ops-altup.c) ----

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

  // ---- recurrent layers (kernels/ops-ssm.c) ----

  /**
   * ggml_ssm_conv over the sequence's rolling state then x: per channel c of
   * x [n_ch, n_tokens] (a strided view allowed), y[c, t] = sum over the
   * d_conv taps k of w[k, c] times the k-th of the d_conv inputs ending at t,
   * the inputs before the batch coming from `state` (each row's sequence's
   * [d_conv - 1, n_ch] block of a LayerState's r, by the row's slot in
   * kvRows), which is left holding that sequence's last d_conv - 1 inputs.
   * w is f32 [d_conv, n_ch]. Returns [n_ch, n_tokens].
   */
  ssmConv(x: Tensor, state: Tensor, kvRows: Tensor, w: Tensor, name: string): Tensor {
    const [dConv, nCh] = [w.ne[0]!, w.ne[1]!];
    if (w.type !== GGMLType.F32) throw new Error(`${name}: ${w.name} must be f32 (ggml_ssm_conv reads f32 taps)`);
    if (x.ne[0] !== nCh) throw new Error(`${name}: ${nCh} channels of taps for rows of ${x.ne[0]}`);
    if (!(dConv >= 1 && dConv <= 16)) throw new Error(`${name}: a convolution of ${dConv} taps (1..16)`);
    if (elementCount(state.ne.slice(0, 3)) < (dConv - 1) * nCh) throw new Error(`${name}: ${state.name} holds fewer than ${(dConv - 1) * nCh} floats per sequence`);
    const nTok = elementCount(x.ne) / nCh;
    checkKvRows(kvRows, nTok, name);
    const out = this.g.f32(name, [nCh, nTok]);
    const xs = (x.rowStride ?? nCh * 4) / 4;
    return this.g.add({
      name, inputs: [x, state, kvRows, w], output: out,
      phases: [this.phase('ssm_conv_f32', at(x), xs, at(state), perSeqFloats(state), at(kvRows), at(w), at(out), nCh, nTok, dConv)],
    });
  }

  /**
   * Mamba-2's selective scan over the batch (ggml_ssm_scan, one decay per
   * head), for each row's sequence's SSM state (its slot in kvRows) ([n_head][head_dim][d_state]
   * of a LayerState's s, updated in place): xbc rows hold x (head_dim *
   * n_head), then B and C (n_group * d_state each); dt [n_head, n_tokens] (a
   * strided view allowed) gets dtBias added before its softplus; A and D are
   * one value per head (D: the skip, x * D added to y; null: none). Returns y [head_dim * n_head, n_tokens].
   */
  ssmScan(xbc: Tensor, dt: Tensor, dtBias: Tensor, A: Tensor, D: Tensor | null, state: Tensor, kvRows: Tensor,
    d: { dState: number; headDim: number; nHead: number; nGroup: number }, name: string): Tensor {
    const dInner = d.headDim * d.nHead;
    const nCh = dInner + 2 * d.nGroup * d.dState;
    if (xbc.ne[0] !== nCh) throw new Error(`${name}: rows of ${xbc.ne[0]}, expected x, B and C: ${nCh}`);
    if (d.nHead % d.nGroup !== 0) throw new Error(`${name}: ${d.nHead} heads in ${d.nGroup} groups`);
    if (elementCount(state.ne.slice(0, 3)) < dInner * d.dState) throw new Error(`${name}: ${state.name} holds fewer than ${dInner * d.dState} floats per sequence`);
    for (const t of [dtBias, A, ...(D ? [D] : [])]) {
      if (t.type !== GGMLType.F32 || elementCount(t.ne) !== d.nHead) throw new Error(`${name}: ${t.name} must be ${d.nHead} f32 values`);
    }
    const nTok = elementCount(xbc.ne) / nCh;
    checkKvRows(kvRows, nTok, name);
    const out = this.g.f32(name, [dInner, nTok]);
    return this.g.add({
      name, inputs: [xbc, dt, dtBias, A, ...(D ? [D] : []), state, kvRows], output: out,
      phases: [this.phase('ssm_scan_f32', at(state), perSeqFloats(state), at(kvRows), at(xbc), (xbc.rowStride ?? nCh * 4) / 4, at(dt), (dt.rowStride ?? d.nHead * 4) / 4,
        at(dtBias), at(A), D ? at(D) : NULL, at(out), d.dState, d.headDim, d.nHead, d.nGroup, nTok)],
    });
  }

  /**
   * ggml_l2_norm of each head of x's token rows ([n_head * head_dim, n_tokens],
   * a strided view allowed): x / max(|x|, eps) per head. Returns [head_dim, n_head, n_tokens].
   */
  l2NormHeads(x: Tensor, nHead: number, headDim: number, eps: number, name: string): Tensor {
    if (x.ne[0] !== nHead * headDim) throw new Error(`${name}: rows of ${x.ne[0]} for ${nHead} heads of ${headDim}`);
    const nTok = elementCount(x.ne) / x.ne[0]!;
    const out = this.g.f32(name, [headDim, nHead, nTok]);
    return this.g.add({
      name, inputs: [x], output: out,
      phases: [this.phase('l2_norm_heads_f32', at(x), (x.rowStride ?? x.ne[0]! * 4) / 4, at(out), nTok, nHead, headDim, eps)],
    });
  }

  /**
   * The gated delta rule over the batch (ggml_gated_delta_net with one decay
   * per head: qwen3next's and qwen35's linear attention), for each row's
   * sequence's state (its slot in kvRows) ([n_v_head][S][S] of a LayerState's s, updated in
   * place). q, k: [S, n_k_head, n_tokens] (l2-normed); v: [S * n_v_head,
   * n_tokens] (a strided view allowed); beta = sigmoid(b), decay
   * exp(softplus(a + dtBias) * A). `ab` is qwen3next's fused ba
   * ([2 * n_v_head, n_tokens]: per key head the b's then the a's of its
   * value heads, which read that key head) or qwen35's separate b and a
   * ([n_v_head, n_tokens] each; value head h reads key head h % n_k_head).
   * Returns [S, n_v_head, n_tokens].
   */
  gatedDeltaNet(q: Tensor, k: Tensor, v: Tensor, ab: { ba: Tensor } | { b: Tensor; a: Tensor }, dtBias: Tensor, A: Tensor, state: Tensor, kvRows: Tensor,
    d: { S: number; nKHead: number; nVHead: number }, name: string): Tensor {
    const nTok = elementCount(v.ne) / v.ne[0]!;
    if (v.ne[0] !== d.S * d.nVHead || elementCount(q.ne) !== d.S * d.nKHead * nTok || elementCount(k.ne) !== elementCount(q.ne)) throw new Error(`${name}: shapes of q, k, v`);
    if (d.nVHead % d.nKHead !== 0 || d.S > 512) throw new Error(`${name}: ${d.nVHead} value heads of ${d.S} for ${d.nKHead} key heads`);
    if (elementCount(state.ne.slice(0, 3)) < d.S * d.S * d.nVHead) throw new Error(`${name}: ${state.name} holds fewer than ${d.S * d.S * d.nVHead} floats per sequence`);
    for (const t of [dtBias, A]) if (t.type !== GGMLType.F32 || elementCount(t.ne) !== d.nVHead) throw new Error(`${name}: ${t.name} must be ${d.nVHead} f32 values`);
    const grouped = 'ba' in ab;
    const [b, a] = grouped ? [ab.ba, ab.ba] : [ab.b, ab.a];
    const rowLen = grouped ? 2 * d.nVHead : d.nVHead;
    for (const t of grouped ? [b] : [b, a]) {
      if (t.ne[0] !== rowLen || (t.rowStride !== undefined && t.rowStride !== rowLen * 4)) throw new Error(`${name}: ${t.name} must be contiguous rows of ${rowLen}`);
    }
    checkKvRows(kvRows, nTok, name);
    const out = this.g.f32(name, [d.S, d.nVHead, nTok]);
    return this.g.add({
      name, inputs: [q, k, v, ...(grouped ? [b] : [b, a]), dtBias, A, state, kvRows], output: out,
      phases: [this.phase('gated_delta_net_f32', at(state), perSeqFloats(state), at(kvRows), at(q), at(k), at(v), (v.rowStride ?? v.ne[0]! * 4) / 4,
        at(b), at(a, grouped ? (d.nVHead / d.nKHead) * 4 : 0), rowLen, grouped ? 1 : 0, at(dtBias), at(A), at(out), d.S, d.nKHead, d.nVHead, nTok)],
    });
  }

  /** ggml_silu as ggml's CPU backend computes it (kernels/ops-unary.c). */
  silu(x: Tensor, name: string): Tensor {
    const out = this.g.f32(name, x.ne);
    if (x.rowStride !== undefined && x.rowStride !== x.ne[0]! * 4) throw new Error(`${name}: silu of a strided view`);
    return this.g.add({ name, inputs: [x], output: out, phases: [this.phase('silu_f32', at(x), at(out), elementCount(x.ne))] });
  }

  // ---- mixture of experts (kernels/moe.c) ----

  /** Row softmax (ggml_soft_max): exponentials summed in double, as ggml does. */
  softMax(x: Tensor, name: string): Tensor {
    const n = x.ne[0]!;
    const rows = elementCount(x.ne) / n;
    const out = this.g.f32(name, x.ne);
    return this.g.add({ name, inputs: [x], output: out, phases: [this.phase('soft_max_f32', at(x), at(out), NULL, 0, 0, rows, n, 1)] });
  }

  /** Indices of each row's k largest values, largest first (ggml_argsort_top_k): int32 [k, rows]. */
  topK(x: Tensor, k: number, name: string): Tensor {
    const n = x.ne[0]!;
    const rows = elementCount(x.ne) / n;
    if (!(k >= 1 && k <= n)) throw new Error(`${name}: top ${k} of rows of ${n}`);
    const out = this.g.tensor({ name, type: GGMLType.I32, ne: [k, rows], kind: 'intermediate' });
    return this.g.add({ name, inputs: [x], output: out, phases: [this.phase('argsort_top_k_f32', at(x), at(out), n, rows, k)] });
  }

  /**
   * The weights of the experts `ids` picked per token from `probs`
   * [n_expert, n_tokens]: [k, n_tokens], divided by their sum when `norm`,
   * times `scale` unless it is 0 or 1 (build_moe_ffn's norm_w and w_scale).
   */
  moeWeights(probs: Tensor, ids: Tensor, norm: boolean, scale: number, name: string): Tensor {
    const [k, nTok] = [ids.ne[0]!, ids.ne[1]!];
    const out = this.g.f32(name, [k, nTok]);
    return this.g.add({
      name, inputs: [probs, ids], output: out,
      phases: [this.phase('moe_weights_f32', at(probs), at(ids), at(out), probs.ne[0]!, k, nTok, norm ? 1 : 0, scale)],
    });
  }

  /**
   * ggml_mul_mat_id: w is [n_in, n_out, n_expert] (one matrix per expert);
   * for token t and slot s, expert ids[s, t] times x's row for (t, s). x is
   * [n_in, n_tokens] (one row for all of a token's slots) or [n_in, k,
   * n_tokens]. Only the chosen experts are computed, each over the group of
   * tokens that chose it. Returns [n_out, k, n_tokens].
   */
  matmulId(w: Tensor, x: Tensor, ids: Tensor, name: string): Tensor {
    const [nIn, nOut, nExpert] = [w.ne[0]!, w.ne[1]!, w.ne[2] ?? 1];
    const [k, nTok] = [ids.ne[0]!, ids.ne[1]!];
    if (nExpert > 512) throw new Error(`${name}: ${w.name} has ${nExpert} experts, more than llama.cpp's 512`);
    if (x.ne[0] !== nIn) throw new Error(`${name}: ${w.name} expects rows of ${nIn}, got ${x.ne[0]}`);
    const xRows = elementCount(x.ne) / nIn;
    if (xRows !== nTok && xRows !== nTok * k) throw new Error(`${name}: ${xRows} input rows for ${nTok} tokens of ${k} experts`);
    const info = ggmlTypeInfo(w.type)!;
    const vdt = info.vecDotType;
    if (vdt === null) throw new Error(`${name}: ${w.name} has type ${info.name}, which is not a matmul weight`);
    const nPairs = k * nTok;
    const actRow = rowSize(vdt, nIn);
    const metaBytes = Math.ceil(((nExpert + 1 + nPairs) * 4) / 64) * 64;
    const actBytes = Math.ceil((nPairs * actRow) / 64) * 64;
    const act = { scratch: metaBytes };
    const sorted = { scratch: metaBytes + actBytes };
    const rowBytes = rowSize(w.type, nIn);
    const out = this.g.f32(name, [nOut, k, nTok]);
    return this.g.add({
      name, inputs: [w, x, ids], output: out,
      scratchBytes: metaBytes + actBytes + nPairs * nOut * 4,
      phases: [
        this.phase('moe_gather_rows', at(ids), k, nTok, nExpert, at(x), x.rowStride ?? nIn * 4, xRows === nTok ? 0 : 1,
          nIn, vdt, { scratch: 0 }, act, actRow),
        this.phase(`mat_rows_id_${w.layout ?? info.name}`, at(w), rowBytes, rowBytes * nOut, { scratch: 0 }, nExpert, act, actRow, sorted, nOut, nIn),
        this.phase('moe_scatter_rows', { scratch: 0 }, nExpert, nPairs, sorted, at(out), nOut),
      ],
    });
  }

  /**
   * ggml_add_id: each row of x [n, k, n_tokens] (one per token and slot)
   * plus row ids[slot, token] of bias [n, n_expert]: a chosen expert's own bias.
   */
  addId(x: Tensor, bias: Tensor, ids: Tensor, name: string): Tensor {
    const [n, k, nTok] = [x.ne[0]!, x.ne[1]!, x.ne[2]!];
    if (bias.ne[0] !== n || bias.type !== GGMLType.F32) throw new Error(`${name}: ${bias.name} is not f32 rows of ${n}`);
    const out = this.g.f32(name, x.ne);
    return this.g.add({
      name, inputs: [x, bias, ids], output: out,
      phases: [this.phase('moe_add_id_f32', at(x), at(bias), at(ids), at(out), n, k, nTok)],
    });
  }

  /** Sum over slots of experts [n, k, n_tokens] times weights [k, n_tokens] (in slot order, as ggml adds them); null weights: the plain sum. */
  moeCombine(experts: Tensor, weights: Tensor | null, name: string): Tensor {
    const [n, k, nTok] = [experts.ne[0]!, experts.ne[1]!, experts.ne[2]!];
    const out = this.g.f32(name, [n, nTok]);
    return this.g.add({
      name, inputs: weights ? [experts, weights] : [experts], output: out,
      phases: [this.phase('moe_combine_f32', at(experts), weights ? at(weights) : NULL, at(out), n, k, nTok)],
    });
  }

  /** Each token's row of x [n, n_tokens] once per slot, times the slot's weight [k, n_tokens]: [n, k, n_tokens] (llama 4's weighted expert input). */
  moeWeightedRows(x: Tensor, weights: Tensor, name: string): Tensor {
    const n = x.ne[0]!;
    const [k, nTok] = [weights.ne[0]!, weights.ne[1]!];
    if (elementCount(x.ne) !== n * nTok || (x.rowStride !== undefined && x.rowStride !== n * 4)) throw new Error(`${name}: ${x.name} is not ${nTok} contiguous rows`);
    const out = this.g.f32(name, [n, k, nTok]);
    return this.g.add({
      name, inputs: [x, weights], output: out,
      phases: [this.phase('moe_weighted_rows_f32', at(x), at(weights), at(out), n, k, nTok)],
    });
  }

  /** Each row of x times sigmoid of one gate logit per row, computed as silu(g)/g (qwen2moe's shared expert). */
  mulSiluGate(x: Tensor, g: Tensor, name: string): Tensor {
    const n = x.ne[0]!;
    const rows = elementCount(x.ne) / n;
    if (elementCount(g.ne) !== rows) throw new Error(`${name}: ${elementCount(g.ne)} gates for ${rows} rows`);
    const out = this.g.f32(name, x.ne);
    return this.g.add({ name, inputs: [x, g], output: out, phases: [this.phase('mul_silu_gate_f32', at(x), at(g), at(out), n, rows)] });
  }
}
