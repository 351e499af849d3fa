// The ops an architecture composes, each bound to its WASM kernels. Every op
// splits its work over threads (ith of nth) so the same graph runs on one
// core or many; phases within an op are separated by barriers.
import { GGMLType, ggmlTypeInfo, rowSize } from '../../formats/ggml-types.js';
import type { Kernels } from '../../wasm/loader.js';
import { Graph, elementCount, type Tensor } from './graph.js';

type RowFn = (x: number, y: number, n: number) => void;
type MatvecFn = (w: number, rowBytes: number, a: number, out: number, n: number, r0: number, r1: number) => void;
type Fn = (...args: number[]) => unknown;

/** Rows [r0, r1) of n for thread ith of nth: contiguous, as even as possible. */
export function rowRange(n: number, ith: number, nth: number): [number, number] {
  const per = Math.ceil(n / nth);
  const r0 = Math.min(n, per * ith);
  return [r0, Math.min(n, r0 + per)];
}

/** How the activation is converted before a dot with each weight type. */
function activationConverter(k: Kernels, vecDotType: GGMLType): RowFn | null {
  switch (vecDotType) {
    case GGMLType.F32: return null;
    case GGMLType.F16: return k.exports.convert_row_f32_to_f16;
    case GGMLType.BF16: return k.exports.convert_row_f32_to_bf16;
    case GGMLType.Q8_0: return k.exports.quantize_row_q8_0;
    case GGMLType.Q8_1: return k.exports.quantize_row_q8_1;
    default: return need<RowFn>(k, `quantize_row_${ggmlTypeInfo(vecDotType)!.name}`);
  }
}

function need<T>(k: Kernels, name: string): T {
  const f = k.lookup(name);
  if (!f) throw new Error(`kernels lack ${name}; rebuild wasm/kernels.wasm`);
  return f as unknown as T;
}

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
  kqScale: number;
  /** 0 for none (gemma2 uses a soft-cap). */
  softcap?: number;
  /** Sliding window: 0 for none. */
  nSwa?: number;
}

/** The f16 KV cache of one layer: [n_head_kv][n_ctx][head_dim] each. */
export interface LayerCache {
  k: Tensor;
  v: Tensor;
  nCtx: number;
}

/**
 * Graph-building helpers bound to one kernel instance. Shapes follow ggml:
 * an activation of n_tokens rows of n floats is ne = [n, n_tokens].
 */
export class Ops {
  constructor(readonly g: Graph, readonly k: Kernels) {}

  private fn<T extends Fn>(name: string): T {
    return need<T>(this.k, name);
  }

  /** Rows of a token embedding table (any weight type) for int32 ids. */
  getRows(table: Tensor, ids: Tensor, name = 'inp_embd'): Tensor {
    const n = table.ne[0]!;
    const nIds = elementCount(ids.ne);
    const out = this.g.f32(name, [n, nIds]);
    const rowBytes = rowSize(table.type, n);
    const i32 = () => this.k.i32();
    let run: (tp: number, ip: number, op: number, ith: number, nth: number) => void;
    if (table.type === GGMLType.F32 || table.type === GGMLType.F16) {
      const f = this.fn<Fn>(table.type === GGMLType.F32 ? 'get_rows_f32' : 'get_rows_f16');
      run = (tp, ip, op, ith, nth) => f(tp, ip, op, nIds, n, ith, nth);
    } else {
      const deq = this.fn<RowFn>(`dequantize_row_${ggmlTypeInfo(table.type)!.name}`);
      run = (tp, ip, op, ith, nth) => {
        const [r0, r1] = rowRange(nIds, ith, nth);
        const ids32 = i32();
        for (let r = r0; r < r1; r++) deq(tp + ids32[(ip >> 2) + r]! * rowBytes, op + r * n * 4, n);
      };
    }
    return this.g.add({
      name, inputs: [table, ids], output: out,
      phases: [(p, _s, ith, nth) => run(p(table), p(ids), p(out), ith, nth)],
    });
  }

  /** y = x / rms(x) * w  (w optional): llama's RMSNorm. */
  rmsNorm(x: Tensor, w: Tensor | null, eps: number, name: string): Tensor {
    const [n, rows] = [x.ne[0]!, elementCount(x.ne) / x.ne[0]!];
    const out = this.g.f32(name, x.ne);
    const f = this.fn<Fn>('rms_norm_f32');
    return this.g.add({
      name, inputs: w ? [x, w] : [x], output: out,
      phases: [(p, _s, ith, nth) => f(p(x), p(out), w ? p(w) : 0, rows, n, eps, ith, nth)],
    });
  }

  /** LayerNorm: (x - mean) / sqrt(var + eps) * w + b (w, b optional). */
  norm(x: Tensor, w: Tensor | null, b: Tensor | null, eps: number, name: string): Tensor {
    const [n, rows] = [x.ne[0]!, elementCount(x.ne) / x.ne[0]!];
    const out = this.g.f32(name, x.ne);
    const f = this.fn<Fn>('norm_f32');
    return this.g.add({
      name, inputs: [x, ...(w ? [w] : []), ...(b ? [b] : [])], output: out,
      phases: [(p, _s, ith, nth) => f(p(x), p(out), w ? p(w) : 0, b ? p(b) : 0, rows, n, eps, ith, nth)],
    });
  }

  /**
   * out = W x for each token row (ggml_mul_mat(W, x)): the activation is first
   * converted to the weight type's vec_dot_type (as ggml does, so results track
   * llama.cpp), then each thread takes a slice of the output rows.
   */
  matmul(w: Tensor, x: Tensor, name: string): Tensor {
    const nIn = w.ne[0]!;
    const nOut = w.ne[1]!;
    if (x.ne[0] !== nIn) throw new Error(`${name}: ${w.name} expects rows of ${nIn}, got ${x.ne[0]}`);
    const nTok = elementCount(x.ne) / nIn;
    const out = this.g.f32(name, [nOut, nTok]);
    const info = ggmlTypeInfo(w.type)!;
    const vdt = info.vecDotType;
    if (vdt === null) throw new Error(`${name}: ${w.name} has type ${info.name}, which is not a matmul weight`);
    const wRow = rowSize(w.type, nIn);
    const matvec = this.fn<MatvecFn>(`matvec_${info.name}`);
    const convert = activationConverter(this.k, vdt);
    const aRow = rowSize(vdt, nIn);
    const xStride = x.rowStride ?? nIn * 4;
    const phases: ((p: (t: Tensor) => number, s: number, ith: number, nth: number) => void)[] = [];
    if (convert) {
      phases.push((p, s, ith, nth) => {
        const [t0, t1] = rowRange(nTok, ith, nth);
        const xp = p(x);
        for (let t = t0; t < t1; t++) convert(xp + t * xStride, s + t * aRow, nIn);
      });
    }
    phases.push((p, s, ith, nth) => {
      const [r0, r1] = rowRange(nOut, ith, nth);
      if (r0 >= r1) return;
      const wp = p(w), op = p(out), xp = p(x);
      for (let t = 0; t < nTok; t++) {
        const a = convert ? s + t * aRow : xp + t * xStride;
        matvec(wp, wRow, a, op + t * nOut * 4, nIn, r0, r1);
      }
    });
    return this.g.add({ name, inputs: [w, x], output: out, scratchBytes: convert ? nTok * aRow : 0, phases });
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
    const out = this.g.f32(name, a.ne);
    const f = this.fn<Fn>(kernel);
    return this.g.add({
      name, inputs: [a, b], output: out,
      phases: [(p, _s, ith, nth) => f(p(a), p(b), p(out), rows, n, bRows, ith, nth)],
    });
  }

  /** y = act(gate) * up: 'silu' (SwiGLU) or 'gelu' (GeGLU). */
  glu(kind: 'silu' | 'gelu', gate: Tensor, up: Tensor, name: string): Tensor {
    const n = gate.ne[0]!;
    const rows = elementCount(gate.ne) / n;
    const out = this.g.f32(name, gate.ne);
    const f = this.fn<Fn>(kind === 'silu' ? 'swiglu_f32' : 'geglu_f32');
    const gs = (gate.rowStride ?? n * 4) / 4;
    const us = (up.rowStride ?? n * 4) / 4;
    return this.g.add({
      name, inputs: [gate, up], output: out,
      phases: [(p, _s, ith, nth) => f(p(gate), p(up), p(out), rows, n, gs, us, ith, nth)],
    });
  }

  /** Rotary embedding of [head_dim, n_head, n_tokens] rows (views of a fused qkv allowed). */
  rope(x: Tensor, pos: Tensor, nHead: number, headDim: number, r: RopeParams, name: string): Tensor {
    const nTok = elementCount(x.ne) / (nHead * headDim);
    const out = this.g.f32(name, [headDim, nHead, nTok]);
    const f = this.fn<Fn>('rope_f32');
    const xs = (x.rowStride ?? nHead * headDim * 4) / 4;
    return this.g.add({
      name, inputs: r.freqFactors ? [x, pos, r.freqFactors] : [x, pos], output: out,
      phases: [(p, _s, ith, nth) => f(p(x), p(out), p(pos), r.freqFactors ? p(r.freqFactors) : 0,
        nTok, nHead, headDim, xs, nHead * headDim, r.nRot, r.mode, r.nCtxOrig, r.freqBase, r.freqScale,
        r.extFactor, r.attnFactor, r.betaFast, r.betaSlow, ith, nth)],
    });
  }

  /**
   * Stores k and v of this batch in the layer's f16 cache at their positions,
   * then attends q over cells [0, nKv) with the causal (and sliding-window) mask
   * given by positions. nKv is read at run time (cells in use after this
   * batch), so a decode graph is built once and reused for every token. Returns [n_head*head_dim, n_tokens].
   */
  attention(q: Tensor, k: Tensor, v: Tensor, pos: Tensor, cache: LayerCache, nKv: () => number,
    a: AttentionParams, name: string): Tensor {
    const nTok = elementCount(q.ne) / (a.nHead * a.headDim);
    const out = this.g.f32(name, [a.nHead * a.headDim, nTok]);
    const store = this.fn<Fn>('kv_store_f16');
    const attend = this.fn<Fn>('attention_f16kv');
    // sized for a full cache so one graph serves every n_past
    const wsize = Number(this.fn<Fn>('attention_f16kv_wsize')(a.nHead, a.nHeadKv, a.headDim, cache.nCtx));
    const maxThreads = 8;
    const kvRow = a.nHeadKv * a.headDim;
    const ks = (k.rowStride ?? kvRow * 4) / 4;
    const vs = (v.rowStride ?? kvRow * 4) / 4;
    const qs = (q.rowStride ?? a.nHead * a.headDim * 4) / 4;
    return this.g.add({
      name, inputs: [q, k, v, pos, cache.k, cache.v], output: out,
      scratchBytes: wsize * maxThreads + 16,
      phases: [
        (p, _s, ith, nth) => {
          store(p(k), p(cache.k), p(pos), nTok, a.nHeadKv, a.headDim, ks, cache.nCtx, ith, nth);
          store(p(v), p(cache.v), p(pos), nTok, a.nHeadKv, a.headDim, vs, cache.nCtx, ith, nth);
        },
        (p, s, ith, nth) => {
          if (nth > maxThreads) throw new Error(`attention: at most ${maxThreads} threads`);
          attend(p(q), p(cache.k), p(cache.v), p(out), p(pos), nTok, a.nHead, a.nHeadKv, a.headDim, qs,
            nKv(), cache.nCtx, a.kqScale, a.softcap ?? 0, a.nSwa ?? 0, (s + 15) & ~15, ith, nth);
        },
      ],
    });
  }

  /** The last `keep` token rows of x (logits only where asked). */
  lastRows(x: Tensor, keep: number, name: string): Tensor {
    const n = x.ne[0]!;
    const rows = elementCount(x.ne) / n;
    if (keep >= rows) return x;
    return this.g.view(x, name, [n, keep], (rows - keep) * n * 4, n * 4);
  }
}
