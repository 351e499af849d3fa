// The one token loop: sample, accept, stop at an end-of-generation token,
// stream whole UTF-8 text, evaluate the token, repeat. Completion
// (Context/Sequence.generate, the CLI's complete), the chat session (the
// chat CLI and the worker API) all run it; what differs is what they do
// when the context fills (stop, or make room and go on) and the prompt.
import { jsonSchemaToGrammar } from '../formats/grammar/index.js';
import { createGrammarConstraint, createSampler, type GrammarConstraint, type GrammarInput, type Sampler, type SamplerOptions, type TokenConstraint } from './sample/index.js';
import { intOption, MAX_INT32 } from './options.js';
import type { Sequence } from './sequence.js';
import type { Tokenizer } from './tokenizer/index.js';

export type StopReason = 'eog' | 'max-tokens' | 'aborted' | 'context-full';

export interface TokenLoopOptions {
  /** Tokens to generate at most; negative: no limit. */
  maxTokens: number;
  signal?: AbortSignal;
  /** Ids never sampled (llama.cpp's --ignore-eos biases the end-of-generation ids to -inf). */
  banned?: readonly number[];
  /**
   * Called when the next token would not fit in the sequence: make room and
   * return the logits to sample from next (the last sampled token evaluated),
   * or undefined to stop with 'context-full'. Default: stop.
   */
  onContextFull?: (generated: readonly number[]) => Promise<Float32Array | undefined>;
  /**
   * Only tokens this grammar state allows are sampled; it advances by each
   * sampled token. The reply ends ('eog') where the grammar is complete.
   * A function is asked before every token, so a caller can start
   * constraining mid-reply (a tool call's arguments after its name, as
   * llama.cpp's lazy grammars do): undefined leaves that token free.
   */
  grammar?: GrammarSource;
  /** Decode special tokens as their text (tool-call markers such as [TOOL_CALLS]). Default false. */
  special?: boolean;
}

/** What the loop asks of a grammar: a GrammarConstraint, or one that wraps it (a lazy grammar). */
export interface LoopConstraint extends TokenConstraint {
  readonly finished: boolean;
  accept(id: number): void;
}

/** One step of the loop: a sampled token and the text it completed ('' while a character is incomplete). */
export interface LoopToken {
  id: number;
  text: string;
}

/** How the loop ended, and the tokens it sampled (end-of-generation excluded). */
export interface LoopEnd {
  stop: StopReason;
  tokens: number[];
  /** Text held back at the end (an incomplete character, flushed as U+FFFD). */
  rest: string;
}

const yieldToEventLoop: () => Promise<void> = typeof setImmediate === 'function'
  ? () => new Promise((r) => setImmediate(r))
  : () => new Promise((r) => setTimeout(r, 0));

/** A grammar state, or a function asked before every token (lazy grammars: undefined leaves that token free). */
export type GrammarSource = LoopConstraint | (() => LoopConstraint | undefined);

/**
 * The choice half of the loop, one token per call: mask banned ids, sample
 * (under the grammar, if any), accept, stop at end-of-generation, decode
 * whole characters. tokenLoop
 * evaluates each token itself; the server's scheduler (runtime/server) holds
 * one picker per slot and evaluates every slot's token in one step.
 */
export class TokenPicker {
  /** The tokens picked so far (end-of-generation excluded). */
  readonly tokens: number[] = [];
  private readonly decoder: ReturnType<Tokenizer['createStreamDecoder']>;

  constructor(
    private readonly tokenizer: Tokenizer, readonly sampler: Sampler, private readonly banned?: readonly number[],
    private readonly grammar?: GrammarSource, special = false,
  ) {
    this.decoder = tokenizer.createStreamDecoder({ special });
  }

  /** The next token and the text it completes, or 'eog' (not recorded, not decoded). */
  pick(logits: Float32Array): LoopToken | 'eog' {
    if (this.banned) for (const id of this.banned) logits[id] = -Infinity;
    const grammar = typeof this.grammar === 'function' ? this.grammar() : this.grammar;
    // a complete grammar allows only the end: stop as if it had been sampled
    if (grammar?.finished) return 'eog';
    const next = this.sampler.sample(logits, grammar);
    if (next < 0) return 'eog'; // the grammar allows no token left unbanned
    this.sampler.accept(next);
    if (this.tokenizer.isEog(next)) return 'eog';
    grammar?.accept(next);
    this.tokens.push(next);
    return { id: next, text: this.decoder.push(next) };
  }

  /** Text held back (an incomplete character, as U+FFFD). */
  flush(): string {
    return this.decoder.flush();
  }
}

/**
 * Samples from `logits` (the sequence's last token's), yields each token with
 * its text, evaluates it and goes on. The last sampled token is not evaluated
 * (no one needs its logits yet; a chat's next turn evaluates it with the next
 * prompt). Between tokens it yields to the event loop, where abort signals and
 * UI events land.
 */
export async function* tokenLoop(
  sequence: Sequence, tokenizer: Tokenizer, sampler: Sampler, logits: Float32Array, o: TokenLoopOptions,
): AsyncGenerator<LoopToken, LoopEnd, undefined> {
  const picker = new TokenPicker(tokenizer, sampler, o.banned, o.grammar, o.special);
  const tokens = picker.tokens;
  const end = (stop: StopReason): LoopEnd => ({ stop, tokens, rest: picker.flush() });
  for (;;) {
    if (o.signal?.aborted) return end('aborted');
    if (o.maxTokens >= 0 && tokens.length >= o.maxTokens) return end('max-tokens');
    const t = picker.pick(logits);
    if (t === 'eog') return end('eog');
    yield t;
    if (o.maxTokens >= 0 && tokens.length >= o.maxTokens) return end('max-tokens');
    await yieldToEventLoop();
    if (o.signal?.aborted) return end('aborted');
    if (sequence.position + 1 <= sequence.contextSize) {
      logits = sequence.append([t.id]);
      continue;
    }
    const room = await o.onContextFull?.(tokens);
    if (!room) return end('context-full');
    logits = room;
  }
}

export interface GenerateOptions extends SamplerOptions {
  /** Tokens to generate at most. Default 256; -1 until the context is full. */
  maxTokens?: number;
  /** Stops generation early; the iterator then ends without an error. */
  signal?: AbortSignal;
  /** Add BOS (and EOS) per the model's metadata when tokenizing the prompt. Default true. */
  addSpecial?: boolean;
  /** Parse special tokens written in the prompt text. Default false. */
  special?: boolean;
  /** Constrain the output to a GBNF grammar (text, or parsed with parseGrammar). Default: none. */
  grammar?: GrammarInput;
  /** Constrain the output to JSON valid under this JSON schema (converted with jsonSchemaToGrammar). */
  jsonSchema?: unknown;
}

/** The grammar state for one generation from `grammar` / `jsonSchema` options, or undefined. */
export function grammarFromOptions(o: { grammar?: GrammarInput; jsonSchema?: unknown }, tokenizer: Tokenizer): GrammarConstraint | undefined {
  if (o.grammar !== undefined && o.jsonSchema !== undefined) throw new TypeError('give grammar or jsonSchema, not both');
  if (o.jsonSchema !== undefined) return createGrammarConstraint(jsonSchemaToGrammar(o.jsonSchema), tokenizer);
  if (o.grammar !== undefined) return createGrammarConstraint(o.grammar, tokenizer);
  return undefined;
}

/**
 * A completion: the prompt is appended to what the sequence holds, then the
 * token loop runs until an end-of-generation token, maxTokens, a full
 * context or the abort signal. Yields text as it becomes valid UTF-8.
 */
export async function* generateTokens(
  sequence: Sequence, tokenizer: Tokenizer, prompt: string | readonly number[], options: GenerateOptions = {},
): AsyncGenerator<string, void, undefined> {
  intOption('maxTokens', options.maxTokens, -1, MAX_INT32);
  const ids = typeof prompt === 'string'
    ? tokenizer.tokenize(prompt, { addSpecial: options.addSpecial ?? true, special: options.special ?? false })
    : [...prompt];
  if (ids.length === 0) return;
  const grammar = grammarFromOptions(options, tokenizer);
  const sampler = createSampler(options);
  const logits = sequence.append(ids);
  for (const id of ids) sampler.accept(id);
  const loop = tokenLoop(sequence, tokenizer, sampler, logits, { maxTokens: options.maxTokens ?? 256, signal: options.signal, grammar });
  for (;;) {
    const r = await loop.next();
    if (r.done) {
      if (r.value.rest) yield r.value.rest;
      return;
    }
    if (r.value.text) yield r.value.text;
  }
}
