// One fuzz case: parse -> load -> a short evaluation, and how it ended.
// A case passes when it runs or ends in a typed error: one of the classes
// the library documents for bad input (GGUFError, ModelError and its
// subclasses, TokenizerError, ChatTemplateError, ThreadError) or a
// RangeError with a message. Anything else (a TypeError from deep inside, a
// WebAssembly trap, a plain Error) is a finding, as are the outcomes the
// campaign sees from outside: a hang, a crash, memory past the cap.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { GGMLType } from '../../formats/ggml-types.js';
import { GGUFError, memorySource, parseGGUF, writeGGUF, type GGUFWriteSpec } from '../../formats/gguf/index.js';
import { llamaModelSpec } from '../../formats/synthetic/llama.js';
import { ChatTemplateError, ModelError, ThreadError } from '../../runtime/errors.js';
import { loadModel, type Model } from '../../runtime/model.js';
import { TokenizerError } from '../../runtime/tokenizer/errors.js';
import { sharedGGUFFiles } from '../helpers/shared.js';
import { fuzzSeed, type FuzzSeed } from './mutate.js';

export type Outcome = 'ok' | 'typed' | 'untyped' | 'hang' | 'crash' | 'memory';

export interface CaseResult {
  outcome: Outcome;
  /** Where it ended: parse, load, evaluate. */
  stage: string;
  /** The error's class (name) when it threw. */
  error?: string;
  message?: string;
  ms: number;
}

/** A seeded corpus: small synthetic llama files in three weight types, and ../shared's small models. */
export async function buildCorpus(): Promise<FuzzSeed[]> {
  const small = { n_vocab: 320, n_embd: 64, n_layer: 2, n_head: 4, n_head_kv: 2, n_ff: 128, n_ctx_train: 256 };
  const dir = mkdtempSync(join(tmpdir(), 'fuzz-corpus-'));
  const synthetic = async (name: string, spec: GGUFWriteSpec) => {
    const path = join(dir, `${name}.gguf`);
    await writeGGUF(path, spec);
    return fuzzSeed(name, new Uint8Array(readFileSync(path)));
  };
  const corpus: FuzzSeed[] = [];
  try {
    corpus.push(
      await synthetic('synthetic-f16', llamaModelSpec(small, GGMLType.F16, { seed: 1 })),
      await synthetic('synthetic-q8_0-tied', llamaModelSpec({ ...small, tied: true }, GGMLType.Q8_0, { seed: 2 })),
      // k-quant rows are 256 long; one layer keeps the quantization at start-up short
      await synthetic('synthetic-q4_k', llamaModelSpec({ ...small, n_embd: 256, n_ff: 256, n_layer: 1 }, GGMLType.Q4_K, { seed: 3 })),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const path of sharedGGUFFiles()) {
    const bytes = new Uint8Array(readFileSync(path));
    // the models, not the vocabulary-only files (no tensors to run) nor large ones
    if (bytes.length > 4 * 1024 * 1024) continue;
    const seed = fuzzSeed(basename(path), bytes);
    if (seed.header.tensors.length > 0) corpus.push(seed);
  }
  return corpus;
}

export function isTyped(err: unknown): boolean {
  if (err instanceof GGUFError || err instanceof ModelError || err instanceof TokenizerError) return true;
  if (err instanceof ChatTemplateError || err instanceof ThreadError) return true;
  return err instanceof RangeError && err.message.length > 0;
}

export async function runCase(bytes: Uint8Array, name: string): Promise<CaseResult> {
  const t0 = performance.now();
  let stage = 'parse';
  let model: Model | undefined;
  try {
    parseGGUF(bytes, { file: name });
    stage = 'load';
    model = await loadModel(memorySource(bytes, name), { contextSize: 32 });
    stage = 'evaluate';
    const ctx = model.createContext({ contextSize: 32, threads: 1 });
    try {
      let ids = model.tokenize('Once upon a time').slice(0, 6);
      if (ids.length === 0) ids = [0];
      const logits = ctx.evaluate(ids);
      let best = 0;
      for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
      ctx.evaluate([best]);
    } finally {
      ctx.dispose();
    }
    return { outcome: 'ok', stage, ms: performance.now() - t0 };
  } catch (err) {
    const e = err as Error;
    return {
      outcome: isTyped(err) ? 'typed' : 'untyped', stage, error: e?.name ?? typeof err,
      message: String(e?.message ?? err).slice(0, 300), ms: performance.now() - t0,
    };
  } finally {
    model?.dispose();
  }
}
