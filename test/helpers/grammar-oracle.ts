// llama.cpp's grammar engine as the oracle, through node-llama-cpp: a grammar
// state on a vocab-only model answers "can this token come next" for every
// token (the same check llama.cpp's grammar sampler makes) and accepts tokens.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Llama, LlamaModel } from 'node-llama-cpp';
import { REPO_ROOT } from './shared.js';

interface AddonSamplerStatics {
  canBeNextTokenForGrammarEvaluationState(state: unknown, token: number): boolean;
  acceptGrammarEvaluationStateToken(state: unknown, token: number): void;
}

/** llama.cpp's grammars folder as node-llama-cpp ships it. */
export function llamaGrammarFile(name: string): string {
  return readFileSync(join(REPO_ROOT, 'node_modules', 'node-llama-cpp', 'llama', 'grammars', `${name}.gbnf`), 'utf8');
}

/** llama.cpp's verdict on a grammar text: parsed, or refused. */
export async function oracleParses(llama: Llama, grammar: string, root = 'root'): Promise<boolean> {
  const { LlamaGrammar, LlamaLogLevel } = await import('node-llama-cpp');
  const level = llama.logLevel;
  llama.logLevel = LlamaLogLevel.disabled;
  try {
    new LlamaGrammar(llama, { grammar, rootRuleName: root });
    return true;
  } catch {
    return false;
  } finally {
    llama.logLevel = level;
  }
}

/** One grammar state in llama.cpp. */
export class OracleGrammarState {
  private constructor(private readonly sampler: AddonSamplerStatics, private readonly state: unknown, readonly nVocab: number) {}

  static async create(llama: Llama, model: LlamaModel, grammar: string, nVocab: number): Promise<OracleGrammarState> {
    const { LlamaGrammar, LlamaGrammarEvaluationState } = await import('node-llama-cpp');
    const g = new LlamaGrammar(llama, { grammar });
    const st = new LlamaGrammarEvaluationState({ model, grammar: g });
    const bindings = (llama as unknown as { _bindings: { AddonSampler: AddonSamplerStatics } })._bindings;
    return new OracleGrammarState(bindings.AddonSampler, (st as unknown as { _state: unknown })._state, nVocab);
  }

  allows(token: number): boolean {
    return this.sampler.canBeNextTokenForGrammarEvaluationState(this.state, token);
  }

  /** Every token id llama.cpp allows next. */
  allowed(): number[] {
    const out: number[] = [];
    for (let id = 0; id < this.nVocab; id++) if (this.allows(id)) out.push(id);
    return out;
  }

  accept(token: number): void {
    this.sampler.acceptGrammarEvaluationStateToken(this.state, token);
  }
}
