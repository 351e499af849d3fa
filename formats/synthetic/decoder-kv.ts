// The metadata every synthetic decoder file shares (sizes, rope, norm eps,
// a small SentencePiece vocabulary), under its architecture's prefix. The
// architecture writers (gemma, olmo2, granite, phi3) add their own keys.
import { ggmlTypeInfo, type GGMLType } from '../ggml-types.js';
import { GGUFValueType, type GGUFKVInput } from '../gguf/index.js';
import { fileTypeFor, type SyntheticOptions } from './tensors.js';
import { spmVocabKV } from './vocab.js';

export interface DecoderShape {
  n_vocab: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  n_head_kv: number;
  n_ff: number;
  n_ctx_train: number;
  /** attention.key_length = value_length when it is not n_embd / n_head (gemma). */
  head_dim?: number;
  /** rope.dimension_count when rope covers only part of each head (phi-4-mini). */
  n_rot?: number;
  rope_freq_base?: number;
  rms_eps?: number;
}

export function headDimOf(s: DecoderShape): number {
  return s.head_dim ?? s.n_embd / s.n_head;
}

/**
 * `arch`'s sizes, rope and norm keys, then `extra`, the vocabulary and
 * options.extraKV. `name` is general.name (default "synthetic <arch> <type>").
 */
export function decoderKV(arch: string, s: DecoderShape, type: GGMLType, options: SyntheticOptions, extra: GGUFKVInput[], name?: string): GGUFKVInput[] {
  const f32 = GGUFValueType.FLOAT32;
  const headDim = headDimOf(s);
  const kv: GGUFKVInput[] = [
    { key: 'general.architecture', value: arch },
    { key: 'general.name', value: name ?? `synthetic ${arch} ${ggmlTypeInfo(type)!.name}` },
    { key: 'general.file_type', value: options.fileType ?? fileTypeFor(type) },
    { key: `${arch}.vocab_size`, value: s.n_vocab },
    { key: `${arch}.context_length`, value: s.n_ctx_train },
    { key: `${arch}.embedding_length`, value: s.n_embd },
    { key: `${arch}.block_count`, value: s.n_layer },
    { key: `${arch}.feed_forward_length`, value: s.n_ff },
    { key: `${arch}.attention.head_count`, value: s.n_head },
    { key: `${arch}.attention.head_count_kv`, value: s.n_head_kv },
    { key: `${arch}.rope.dimension_count`, value: s.n_rot ?? headDim },
    { key: `${arch}.rope.freq_base`, value: s.rope_freq_base ?? 10000, type: f32 },
    { key: `${arch}.attention.layer_norm_rms_epsilon`, value: s.rms_eps ?? 1e-6, type: f32 },
  ];
  if (s.head_dim !== undefined) {
    kv.push({ key: `${arch}.attention.key_length`, value: s.head_dim });
    kv.push({ key: `${arch}.attention.value_length`, value: s.head_dim });
  }
  kv.push(...extra, ...spmVocabKV(s.n_vocab));
  if (options.extraKV) kv.push(...options.extraKV);
  return kv;
}
