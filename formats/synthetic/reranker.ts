// Random-weight reranker GGUF files, written as llama.cpp's converter writes
// the real ones so llama.cpp loads them as rerankers:
//   bert  (bge-reranker style): an encoder with pooling_type 4 (rank) and the
//         classifier head cls.weight/cls.bias (dense, then tanh) and
//         cls.output.weight/cls.output.bias (one score);
//   qwen3 (Qwen3-Reranker style): the decoder with pooling_type 4, a
//         cls.output.weight of two rows (classifier.output_labels "yes", "no"),
//         a byte-level BPE vocabulary with <|im_start|>/<|im_end|> and the
//         tokenizer.chat_template.rerank prompt.
import { GGMLType } from '../ggml-types.js';
import type { GGUFKVInput, GGUFWriteSpec } from '../gguf/index.js';
import { BERT_SHAPES, bertModelSpec, WPM_IDS, type BertShape } from './bert.js';
import { llamaModelSpec, type LlamaShape } from './llama.js';
import { RandomTensors, type SyntheticOptions } from './tensors.js';
import { bpeVocabKV } from './vocab-bpe.js';
import { ugmVocabKV } from './vocab-ugm.js';

/** llama.cpp's LLAMA_POOLING_TYPE_RANK. */
export const POOLING_RANK = 4;

export interface BertRerankerOptions extends SyntheticOptions {
  /**
   * Give the vocabulary an EOS token (the [SEP] id), so a pair is joined as
   * RoBERTa-style rerankers join it (bge-reranker-v2-m3: <s> q </s></s> d </s>);
   * without it, [CLS] q [SEP] d. Default false.
   */
  eos?: boolean;
  /** Leave the classifier head out (an embedding model with pooling rank). Default false. */
  noHead?: boolean;
  /**
   * 'ugm': XLM-RoBERTa's unigram vocabulary instead of WordPiece, as
   * bge-reranker-v2-m3's file has it (tokenizer model t5 with a charsmap;
   * <s> first, </s> as EOS and SEP, both added), so a pair is
   * <s> q </s></s> d </s>. Default 'wpm'.
   */
  vocab?: 'wpm' | 'ugm';
}

/** bge-reranker's layout at bert-tiny's size. */
export function bertRerankerSpec(type: GGMLType, options: BertRerankerOptions = {}, shape: BertShape = BERT_SHAPES['bert-tiny']!): GGUFWriteSpec {
  const extraKV: GGUFKVInput[] = [...(options.extraKV ?? [])];
  if (options.eos) extraKV.push({ key: 'tokenizer.ggml.eos_token_id', value: WPM_IDS.sep });
  let spec = bertModelSpec({ ...shape, pooling_type: POOLING_RANK }, type, { ...options, extraKV });
  if (options.vocab === 'ugm') {
    // token_type_count stays: it sizes the encoder's token_types tensor
    const kv = spec.kv.filter((e) => !e.key.startsWith('tokenizer.') || e.key === 'tokenizer.ggml.token_type_count');
    kv.push(...ugmVocabKV({ layout: 'xlmr', maxTokens: shape.n_vocab, seed: options.seed }),
      { key: 'tokenizer.ggml.seperator_token_id', value: 2 });
    spec = { ...spec, kv };
  }
  if (options.noHead) return spec;
  const n = shape.n_embd;
  // a seed of its own, so the encoder's weights equal the embedding model's of the same seed
  const t = new RandomTensors(type, { ...options, seed: (options.seed ?? 1) + 1000 });
  // pre-tanh values of about unit size; scores spread over a few units, so the sigmoid is not flat
  t.matrix('cls.weight', n, n, 1 / Math.sqrt(n));
  t.vector('cls.bias', n, 0, 0.2);
  t.matrix('cls.output.weight', n, 1, 3 / Math.sqrt(n), GGMLType.F32);
  t.vector('cls.output.bias', 1, 0, 0.5);
  return { kv: spec.kv, tensors: [...(spec.tensors ?? []), ...t.tensors] };
}

/** Qwen3-Reranker's prompt: the query and document in a chat, asking for "yes" or "no". */
export const QWEN3_RERANK_TEMPLATE =
  '<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct provided. ' +
  'Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n<Instruct>: Given a web search query, ' +
  'retrieve relevant passages that answer the query\n<Query>: {query}\n<Document>: {document}<|im_end|>\n' +
  '<|im_start|>assistant\n<think>\n\n</think>\n\n';

export const QWEN3_RERANKER_SHAPE: LlamaShape = {
  arch: 'qwen3', n_vocab: 512, n_embd: 256, n_layer: 2, n_head: 4, n_head_kv: 2, n_ff: 512, n_ctx_train: 1024, rope_freq_base: 1000000, tied: true,
};

export interface Qwen3RerankerOptions extends SyntheticOptions {
  /** Write no tokenizer.chat_template.rerank. Default false. */
  noTemplate?: boolean;
}

/**
 * A Qwen3-Reranker-style file. Its vocabulary is byte-level BPE ("qwen2"
 * pre-tokenizer) ending in <|endoftext|>, <|im_start|>, <|im_end|> (control
 * tokens), with add_bos_token false as Qwen's files have it.
 */
export function qwen3RerankerSpec(type: GGMLType, options: Qwen3RerankerOptions = {}, shape: LlamaShape = QWEN3_RERANKER_SHAPE): GGUFWriteSpec {
  const nVocab = shape.n_vocab;
  const base = llamaModelSpec({ ...shape, arch: 'qwen3' }, type, options);
  const bpe = bpeVocabKV(nVocab - 2, 'qwen2');
  const get = (k: string) => bpe.find((e) => e.key === k)!.value;
  const tokens = [...(get('tokenizer.ggml.tokens') as string[]), '<|im_start|>', '<|im_end|>'];
  const types = Int32Array.from([...(get('tokenizer.ggml.token_type') as Int32Array), 3, 3]);
  const endOfText = nVocab - 3;
  const vocab: GGUFKVInput[] = [
    { key: 'tokenizer.ggml.model', value: 'gpt2' },
    { key: 'tokenizer.ggml.pre', value: 'qwen2' },
    { key: 'tokenizer.ggml.tokens', value: tokens },
    { key: 'tokenizer.ggml.token_type', value: types },
    { key: 'tokenizer.ggml.merges', value: get('tokenizer.ggml.merges') },
    { key: 'tokenizer.ggml.bos_token_id', value: endOfText },
    { key: 'tokenizer.ggml.eos_token_id', value: nVocab - 1 },
    { key: 'tokenizer.ggml.padding_token_id', value: endOfText },
    { key: 'tokenizer.ggml.add_bos_token', value: false },
    { key: 'tokenizer.ggml.add_eos_token', value: false },
  ];
  const kv = base.kv.filter((e) => !e.key.startsWith('tokenizer.'));
  kv.push(
    ...vocab,
    { key: 'qwen3.pooling_type', value: POOLING_RANK },
    { key: 'qwen3.classifier.output_labels', value: ['yes', 'no'] },
  );
  if (!options.noTemplate) kv.push({ key: 'tokenizer.chat_template.rerank', value: QWEN3_RERANK_TEMPLATE });
  const t = new RandomTensors(type, { ...options, seed: (options.seed ?? 1) + 1000 });
  // two rows over the normed last hidden state ("yes", "no"): their difference sets the score
  t.matrix('cls.output.weight', shape.n_embd, 2, 4 / Math.sqrt(shape.n_embd));
  return { kv, tensors: [...(base.tensors ?? []), ...t.tensors] };
}
