// What an architecture declares about its files: the tensors llama.cpp's
// loader creates for it, each with its shape in ggml order (row length
// first) as a function of the hyper-parameters, required or optional. A
// file is checked against its architecture's declaration before any tensor
// data is read, so a wrong file fails at once, naming the tensor, instead of
// as a missing weight halfway through building a graph (or not at all).
//
// The helpers below are the per-layer declarations most architectures share
// (norms, attention projections, feed-forward, experts, the output head);
// each architecture file composes them into its own list.
import { GGMLType, ggmlTypeInfo } from '../../formats/ggml-types.js';
import { ModelError } from '../errors.js';
import { printable } from '../terminal/printable.js';
import type { HParams } from '../hparams.js';
import type { BuildGraph } from './context.js';

/** One dimension of a declared shape: its size, and the hparams expression it comes from. */
export interface Dim {
  size: number;
  name: string;
}

export interface TensorDecl {
  name: string;
  shape: readonly Dim[];
  /** false: llama.cpp's TENSOR_NOT_REQUIRED (the file may leave it out). */
  required: boolean;
}

/** The file being checked: which tensors it has (several architectures choose a layout by that). */
export interface FileTensors {
  path: string;
  has(name: string): boolean;
}

export type DeclareTensors = (hp: HParams, file: FileTensors) => TensorDecl[];

/**
 * The per-sequence state of an architecture's recurrent layers (llama.cpp's
 * is_recr, n_embd_r and n_embd_s): the context allocates it beside the KV
 * cache, which those layers do not have.
 */
export interface RecurrentLayout {
  /** Whether layer il is recurrent (a state, no KV cells). */
  layers: readonly boolean[];
  /** f32 values of a recurrent layer's rolling convolution state per sequence (n_embd_r). */
  rFloats: number;
  /** f32 values of its SSM state per sequence (n_embd_s); 0: none. */
  sFloats: number;
}

/** An architecture: how its graph is built, and which tensors its files hold. */
export interface Architecture {
  build: BuildGraph;
  tensors: DeclareTensors;
  /** Its recurrent layers' state, for hybrid and recurrent architectures; absent: attention only. */
  recurrent?: (hp: HParams) => RecurrentLayout;
  /**
   * Layer il attends over the KV cache of layer kvSource[il] (an earlier
   * one: gemma 3n's shared KV, llama.cpp's layer_reuse_cb) and has none of
   * its own when that is not il. Absent: every attention layer has its own.
   */
  kvSource?: (hp: HParams) => readonly number[];
}

/** Present in every file, in some, or in none (llama.cpp's 0, TENSOR_NOT_REQUIRED, or not created). */
export type Presence = 'required' | 'optional' | 'absent';

export const req = (name: string, ...shape: Dim[]): TensorDecl => ({ name, shape, required: true });
export const opt = (name: string, ...shape: Dim[]): TensorDecl => ({ name, shape, required: false });

/** `name` declared as `presence` says (nothing when absent). */
export function maybe(presence: Presence, name: string, ...shape: Dim[]): TensorDecl[] {
  return presence === 'absent' ? [] : [{ name, shape, required: presence === 'required' }];
}

export const dim = (name: string, size: number): Dim => ({ name, size });

/**
 * A reranker's classifier head, all optional as in llama.cpp (the same
 * architecture serves embedding and ranking files): the encoders' dense
 * `cls` layer then `cls.output`; a decoder's (qwen3) `cls.output` alone.
 */
export function rankHead(D: Dims, o: { dense: boolean }): TensorDecl[] {
  return [
    ...(o.dense ? [opt('cls.weight', D.n_embd, D.n_embd), opt('cls.bias', D.n_embd)] : []),
    opt('cls.output.weight', D.n_embd, D.n_cls_out),
    ...(o.dense ? [opt('cls.output.bias', D.n_cls_out)] : []),
  ];
}

/** The dimensions declarations use, named as llama.cpp's loader names them. */
export function dims(hp: HParams) {
  const n_embd_gqa = hp.n_embd_head_v * hp.n_head_kv;
  return {
    n_embd: dim('n_embd', hp.n_embd),
    n_vocab: dim('n_vocab', hp.n_vocab),
    n_ff: dim('n_ff', hp.n_ff),
    n_ctx_train: dim('n_ctx_train', hp.n_ctx_train),
    n_head: dim('n_head', hp.n_head),
    n_head_kv: dim('n_head_kv', hp.n_head_kv),
    n_embd_head_k: dim('n_embd_head_k', hp.n_embd_head_k),
    /** Width of q (and of attn_output's input) when the head size is not n_embd / n_head (gemma, qwen3). */
    n_embd_q: dim('n_embd_head_k*n_head', hp.n_embd_head_k * hp.n_head),
    n_embd_k_gqa: dim('n_embd_k_gqa', hp.n_embd_head_k * hp.n_head_kv),
    n_embd_v_gqa: dim('n_embd_v_gqa', n_embd_gqa),
    n_embd_gqa: dim('n_embd_gqa', n_embd_gqa),
    n_embd_qkv: dim('n_embd+2*n_embd_gqa', hp.n_embd + 2 * n_embd_gqa),
    n_rot_half: dim('n_rot/2', hp.n_rot / 2),
    n_expert: dim('n_expert', hp.n_expert),
    n_token_types: dim('n_token_types', hp.n_token_types),
    n_cls_out: dim('n_cls_out', hp.n_cls_out),
  };
}
export type Dims = ReturnType<typeof dims>;

/** Declarations for every layer: `each` gets the layer's prefix ("blk.3") and index. */
export function layers(hp: HParams, each: (p: string, il: number) => TensorDecl[]): TensorDecl[] {
  const out: TensorDecl[] = [];
  for (let il = 0; il < hp.n_layer; il++) out.push(...each(`blk.${il}`, il));
  return out;
}

/** A norm's weight of n_embd and (LayerNorm) its bias; an optional norm makes its bias optional too. */
export function norm(name: string, D: Dims, bias: Presence = 'absent', weight: Presence = 'required'): TensorDecl[] {
  const b: Presence = weight === 'optional' && bias === 'required' ? 'optional' : bias;
  return [...maybe(weight, `${name}.weight`, D.n_embd), ...maybe(b, `${name}.bias`, D.n_embd)];
}

export interface OutputDecl {
  /** output_norm's bias (the LayerNorm decoders). */
  normBias?: Presence;
  /** output.weight: always, optional (tied to token_embd when absent), or never (gemma, gemma2). */
  output: Presence;
  outputBias?: Presence;
}

/** token_embd, output_norm and the LM head. */
export function embeddingsAndHead(D: Dims, o: OutputDecl): TensorDecl[] {
  return [
    req('token_embd.weight', D.n_embd, D.n_vocab),
    ...norm('output_norm', D, o.normBias ?? 'absent'),
    ...maybe(o.output, 'output.weight', D.n_embd, D.n_vocab),
    ...maybe(o.outputBias ?? 'absent', 'output.bias', D.n_vocab),
  ];
}

export interface AttentionDecl {
  /** Separate attn_q/k/v, one fused attn_qkv, or whichever the file has (llama.cpp looks for attn_qkv first). */
  qkv?: 'separate' | 'fused' | 'either';
  /** Width of q and of attn_output's input. Default n_embd_head_k*n_head. */
  q?: Dim;
  /** Biases of q, k, v (or of the fused qkv). */
  qkvBias?: Presence;
  /** attn_output's bias. */
  outBias?: Presence;
  /** Shapes of attn_q_norm and attn_k_norm, and whether they are required; absent: no q/k norm. */
  qkNorm?: { q: Dim[]; k: Dim[]; presence: Presence };
}

/** A layer's attention projections (and q/k norms), as the options say. */
export function attention(p: string, D: Dims, file: FileTensors, o: AttentionDecl = {}): TensorDecl[] {
  const q = o.q ?? D.n_embd_q;
  const bias = o.qkvBias ?? 'absent';
  const fused = o.qkv === 'fused' || (o.qkv === 'either' && file.has(`${p}.attn_qkv.weight`));
  // q wider than n_embd (gemma, qwen3, glm4moe) widens the fused rows and q's bias too
  const qkvRows = q.size === D.n_embd.size ? D.n_embd_qkv : dim(`${q.name}+n_embd_k_gqa+n_embd_v_gqa`, q.size + D.n_embd_k_gqa.size + D.n_embd_v_gqa.size);
  const out: TensorDecl[] = fused
    ? [req(`${p}.attn_qkv.weight`, D.n_embd, qkvRows), ...maybe(bias, `${p}.attn_qkv.bias`, qkvRows)]
    : [
      req(`${p}.attn_q.weight`, D.n_embd, q),
      req(`${p}.attn_k.weight`, D.n_embd, D.n_embd_k_gqa),
      req(`${p}.attn_v.weight`, D.n_embd, D.n_embd_v_gqa),
      ...maybe(bias, `${p}.attn_q.bias`, q),
      ...maybe(bias, `${p}.attn_k.bias`, D.n_embd_k_gqa),
      ...maybe(bias, `${p}.attn_v.bias`, D.n_embd_v_gqa),
    ];
  out.push(req(`${p}.attn_output.weight`, q, D.n_embd), ...maybe(o.outBias ?? 'absent', `${p}.attn_output.bias`, D.n_embd));
  if (o.qkNorm) {
    out.push(...maybe(o.qkNorm.presence, `${p}.attn_q_norm.weight`, ...o.qkNorm.q));
    out.push(...maybe(o.qkNorm.presence, `${p}.attn_k_norm.weight`, ...o.qkNorm.k));
  }
  return out;
}

export interface FfnDecl {
  /** A separate ffn_gate, gate and up fused in one ffn_up of 2*n_ff rows (phi3), or no gate (GELU MLP). */
  gate: 'separate' | 'fused' | 'none';
  bias?: Presence;
  /** ffn_gate's bias, when it differs from the others' (nomic-bert's gate has none). Default: as `bias`. */
  gateBias?: Presence;
  /** The FFN's width. Default n_ff. */
  n_ff?: Dim;
  /** Tensor-name suffix: "_shexp" for a shared expert. */
  suffix?: string;
}

/** A layer's feed-forward projections. */
export function ffn(p: string, D: Dims, o: FfnDecl): TensorDecl[] {
  const nFF = o.n_ff ?? D.n_ff;
  const s = o.suffix ?? '';
  const bias = o.bias ?? 'absent';
  const upRows = o.gate === 'fused' ? dim(`2*${nFF.name}`, 2 * nFF.size) : nFF;
  return [
    ...(o.gate === 'separate' ? [req(`${p}.ffn_gate${s}.weight`, D.n_embd, nFF), ...maybe(o.gateBias ?? bias, `${p}.ffn_gate${s}.bias`, nFF)] : []),
    req(`${p}.ffn_up${s}.weight`, D.n_embd, upRows),
    ...maybe(bias, `${p}.ffn_up${s}.bias`, upRows),
    req(`${p}.ffn_down${s}.weight`, nFF, D.n_embd),
    ...maybe(bias, `${p}.ffn_down${s}.bias`, D.n_embd),
  ];
}

/** A layer's router and SwiGLU experts (3-D: one matrix per expert). */
export function experts(p: string, D: Dims, n_ff_exp: Dim): TensorDecl[] {
  return [
    req(`${p}.ffn_gate_inp.weight`, D.n_embd, D.n_expert),
    // llama.cpp would run ungated experts without ffn_gate_exps; no supported model has them
    req(`${p}.ffn_gate_exps.weight`, D.n_embd, n_ff_exp, D.n_expert),
    req(`${p}.ffn_down_exps.weight`, n_ff_exp, D.n_embd, D.n_expert),
    req(`${p}.ffn_up_exps.weight`, D.n_embd, n_ff_exp, D.n_expert),
  ];
}

/** llama.cpp refuses an expert architecture without experts before it declares anything. */
export function requireExperts(hp: HParams, file: FileTensors): void {
  if (hp.n_expert <= 0) throw new ModelError(`${hp.arch} needs ${hp.arch}.expert_count > 0`, file.path, `${hp.arch}.expert_count`);
}

function shapeText(ne: readonly number[]): string {
  return `[${ne.join(', ')}]`;
}

/** The same shape up to trailing 1s (ggml's 4-D shapes: a [n] vector is [n, 1, 1, 1]). */
function sameShape(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 1) !== (b[i] ?? 1)) return false;
  return true;
}

/** A tensor of the file as the check sees it: type absent when only shapes are checked. */
export interface FileTensor {
  name: string;
  shape: readonly number[];
  type?: GGMLType;
}

function typeName(type: GGMLType): string {
  return ggmlTypeInfo(type)?.name.toUpperCase() ?? `type ${type}`;
}

/**
 * Checks the file's tensor list against `decls`: every required tensor is
 * there, each present one has its declared shape and a type the graph can
 * read, and the file holds none the architecture does not declare (llama.cpp
 * refuses those too: its loader counts the tensors it created against the
 * file's). Vectors (norms, biases, rope factors, sinks: a 1-D declaration)
 * must be F32: the element-wise kernels read them as f32, and llama.cpp's
 * converters and quantizer always keep them so. Matrices may be any weight
 * type; checkWeightTypes (runtime/load.ts) names one without kernels.
 */
export function checkTensors(arch: string, decls: readonly TensorDecl[], tensors: readonly FileTensor[], path: string): void {
  const inFile = new Map(tensors.map((t) => [t.name, t]));
  const declared = new Set<string>();
  for (const d of decls) {
    declared.add(d.name);
    const t = inFile.get(d.name);
    const expected = `${shapeText(d.shape.map((x) => x.size))} (${d.shape.map((x) => x.name).join(', ')})`;
    if (!t) {
      if (d.required) throw new ModelError(`tensor ${d.name} is missing (${arch} requires it, shape ${expected})`, path, d.name);
      continue;
    }
    if (!sameShape(t.shape, d.shape.map((x) => x.size))) {
      throw new ModelError(`${d.name} has shape ${shapeText(t.shape)}, expected ${expected}`, path, d.name);
    }
    if (t.type !== undefined && d.shape.length === 1 && t.type !== GGMLType.F32) {
      throw new ModelError(`${d.name} (shape ${shapeText(t.shape)}) is ${typeName(t.type)}, expected F32: vectors are read as f32`, path, d.name);
    }
  }
  for (const t of tensors) {
    if (!declared.has(t.name)) throw new ModelError(`unexpected tensor ${printable(t.name)}: ${arch} declares no such tensor`, path, t.name);
  }
}

/** Builds the file's declaration for `arch` and checks it (see checkTensors). */
export function checkFileTensors(archName: string, arch: Architecture, hp: HParams, tensors: readonly FileTensor[], path: string): void {
  const names = new Set(tensors.map((t) => t.name));
  checkTensors(archName, arch.tensors(hp, { path, has: (n) => names.has(n) }), tensors, path);
}
