// Mixture of experts (kernels/moe.c): the router's softmax and top-k, the
// chosen experts' weights, the experts' matmul (ggml_mul_mat_id, also the
// per-head matmul of multi-head latent attention) and the combination of
// their outputs.
import { GGMLType, ggmlTypeInfo, rowSize } from '../../../formats/ggml-types.js';
import { elementCount, type Tensor } from '../graph.js';
import { NULL, at } from './core.js';
import { AttentionOps } from './attention.js';

export class MoeOps extends AttentionOps {
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
