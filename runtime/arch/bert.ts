// BERT-family encoders, as llama.cpp's bert graph builds them:
//   bert       (BGE, MiniLM, E5...): learned absolute positions, separate q/k/v
//              with biases, GELU MLP with biases;
//   nomic-bert (nomic-embed-text): rope (NEOX), one fused attn_qkv, SwiGLU
//              without biases.
// Both: token + token-type (+ position) embeddings, LayerNorm, then post-norm
// layers (x = LN(x + attn(x)); x = LN(x + ffn(x))) with bidirectional
// attention. The output is the last hidden state of every token; pooling and
// normalisation happen in runtime/embed.ts. There is no LM head and no KV
// cache: every sequence is evaluated whole, in one batch.
import { ModelError } from '../errors.js';
import type { Tensor } from '../graph/graph.js';
import { layerNorm, linear, qkvProjections, ropeParams, ROPE_NEOX } from './blocks.js';
import type { BuildContext, BuildGraph } from './context.js';
import { attention, dims, ffn, layers, norm, opt, rankHead, req, type Architecture, type DeclareTensors } from './declare.js';
import { buildFfn } from './ffn.js';

/** What an encoder graph reads beyond BuildContext (runtime/embed.ts provides it). */
export interface EncoderBuildContext extends BuildContext {
  /**
   * int32 [2, n_tokens]: the first and last batch row of each token's
   * sequence; several sequences share a batch without seeing each other.
   */
  inpSeqRange: Tensor;
  /** int32 [n_tokens] token type ids (llama.cpp gives every token type 0, "sentence A"). */
  inpTokenTypes: Tensor;
}

function isEncoderContext(c: BuildContext): c is EncoderBuildContext {
  return (c as Partial<EncoderBuildContext>).inpSeqRange !== undefined;
}

export interface BertOptions {
  /** Overrides attention.causal (tests build a deliberately causal encoder with true). */
  causal?: boolean;
}

/** The graph of bert and nomic-bert: hidden states [n_embd, n_tokens]. */
export function bertGraph(o: BertOptions = {}): BuildGraph {
  return (c: BuildContext): Tensor => {
    const { ops, hp } = c;
    if (!isEncoderContext(c)) {
      throw new ModelError(`${hp.arch} is an embedding model without an LM head: use model.embed()`, undefined, 'general.architecture');
    }
    const nomic = hp.arch === 'nomic-bert';
    const headDim = hp.n_embd_head_k;

    let x = ops.getRows(c.w('token_embd.weight'), c.inpTokens);
    const types = c.wOpt('token_types.weight');
    if (types) x = ops.add(x, ops.getRows(types, c.inpTokenTypes, 'inp_types'), 'inp_embd_types');
    if (!nomic) x = ops.add(ops.getRows(c.w('position_embd.weight'), c.inpPos, 'inp_pos_embd'), x, 'inp_embd_pos');
    x = layerNorm(c, 'token_embd_norm', x, 'inp_norm');

    const rope = nomic ? ropeParams(c, ROPE_NEOX) : null;
    for (let il = 0; il < hp.n_layer; il++) {
      const p = `blk.${il}`;
      let { q, k, v } = qkvProjections(c, il, x);
      if (rope) {
        q = ops.rope(q, c.inpPos, hp.n_head, headDim, rope, `Qcur_rope-${il}`);
        k = ops.rope(k, c.inpPos, hp.n_head_kv, headDim, rope, `Kcur_rope-${il}`);
      }
      const attn = ops.attentionNoCache(q, k, v, c.inpSeqRange, {
        nHead: hp.n_head,
        nHeadKv: hp.n_head_kv,
        headDim,
        kqScale: 1 / Math.sqrt(headDim),
        causal: o.causal ?? hp.causal_attn ?? true,
      }, `kqv_out-${il}`);
      let cur = ops.add(linear(c, `${p}.attn_output`, attn, `attn_out-${il}`), x, `attn_res-${il}`);
      const ffnInp = layerNorm(c, `${p}.attn_output_norm`, cur, `attn_out_norm-${il}`);
      cur = buildFfn(c, il, ffnInp, nomic ? {} : { gate: 'none', act: 'gelu' });
      cur = ops.add(cur, ffnInp, `ffn_res-${il}`);
      x = layerNorm(c, `${p}.layer_output_norm`, cur, `layer_out_norm-${il}`);
    }
    return x;
  };
}

export const buildBert = bertGraph();

const bertTensors: DeclareTensors = (hp, file) => {
  const D = dims(hp);
  const nomic = hp.arch === 'nomic-bert';
  return [
    req('token_embd.weight', D.n_embd, D.n_vocab),
    opt('token_types.weight', D.n_embd, D.n_token_types),
    ...(nomic ? [] : [req('position_embd.weight', D.n_embd, D.n_ctx_train)]),
    ...norm('token_embd_norm', D, 'required'),
    // rerankers (bge-reranker): the classifier head over the [CLS] row (runtime/rank.ts);
    // llama.cpp's loader creates it for bert only, so a nomic-bert file with one is refused there too
    ...(nomic ? [] : rankHead(D, { dense: true })),
    ...layers(hp, (p) => {
      const fused = file.has(`${p}.attn_qkv.weight`);
      return [
        // llama.cpp takes a fused attn_qkv (its bias optional) or separate q/k/v with required biases
        ...attention(p, D, file, { qkv: 'either', q: D.n_embd, qkvBias: fused ? 'optional' : 'required', outBias: 'optional' }),
        ...norm(`${p}.attn_output_norm`, D, 'required'),
        ...ffn(p, D, { gate: nomic ? 'separate' : 'none', bias: 'optional', gateBias: 'absent' }),
        ...norm(`${p}.layer_output_norm`, D, 'required'),
      ];
    }),
  ];
};

export const bert: Architecture = { build: buildBert, tensors: bertTensors };
