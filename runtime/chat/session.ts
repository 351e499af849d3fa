// A multi-turn conversation over one sequence of a context.
//
// Each turn renders the whole conversation with the template and tokenizes
// it; the KV cache keeps the tokens of the previous turns, so only what
// differs from the cache is evaluated: the common token prefix stays, the
// cache is truncated to it and the rest is evaluated. Re-rendering (instead
// of appending the new message's text) keeps templates that rewrite earlier
// turns (DeepSeek-R1 drops old <think> blocks, Llama 3 trims) correct: the
// cache simply diverges at the first changed token.
//
// A reply's sampled ids are often not what tokenizing its text gives (a
// word sampled in two pieces, bytes that are not UTF-8, which the text holds
// as U+FFFD): re-tokenizing alone would evaluate most of every reply again
// on the next turn. So when the new rendering starts with the text the cache
// holds (last prompt + reply) and tokenizing that text alone gives a prefix
// of the new tokens, the cache's own ids take that prefix's place, as
// llama.cpp's llama-cli keeps the sampled ids, and only the rest is new.
//
// When the conversation no longer fits, the oldest turns are dropped (the
// system prompt stays) until it takes half the context, as llama.cpp's
// context shift discards half of what it may; without a KV-cache shift here,
// the kept tokens are evaluated again from the first dropped position.
import { Context } from '../context.js';
import { grammarFromOptions, tokenLoop, type StopReason } from '../generate.js';
import { createGrammarConstraint, createSampler, type GrammarInput, type Sampler, type SamplerOptions } from '../sample/index.js';
import type { Sequence } from '../sequence.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { chatPromptText } from './prompt.js';
import type { ChatTemplate } from './template.js';
import { callMessage, LazyGrammar, planToolTurn, ReplyStream, resultText, type ChatFunction, type ParsedReply, type ToolChoice, type ToolTurn } from './tools/index.js';
import { isChatMessage, type ChatMessage } from './types.js';

export interface ChatSessionOptions extends SamplerOptions {
  template: ChatTemplate;
  /** The system prompt (kept through context shifts). */
  system?: string;
  /** Tokens per reply at most; -1 (default): until an end-of-generation token or a full context. */
  maxTokens?: number;
  /**
   * Never sample an end-of-generation token (llama.cpp's --ignore-eos, which
   * biases them to -inf): replies run to maxTokens or a full context.
   */
  ignoreEos?: boolean;
  /** A GBNF grammar every reply follows unless reply() gives its own. */
  grammar?: GrammarInput;
  /** A JSON schema every reply's JSON follows unless reply() gives its own grammar or schema. */
  jsonSchema?: unknown;
  /**
   * Functions the model may call (name -> description, JSON schema of the
   * arguments, handler). The list is rendered into the model's template; a
   * call's arguments are kept inside the schema by a grammar. Default none.
   */
  functions?: Readonly<Record<string, ChatFunction>>;
  /** OpenAI's tool_choice for each reply's first generation. Default 'auto'. */
  toolChoice?: ToolChoice;
  /** Allow several calls in one generation (the grammar repeats the call). Default false. */
  parallelToolCalls?: boolean;
}

/** A call the model made during a reply, with what the handler returned (as the model read it). */
export interface ToolCallRecord {
  id?: string;
  name: string;
  arguments: Record<string, unknown>;
  result: string;
}

export interface ReplyOptions {
  /** tool_choice for this reply's first generation (the session's by default); later ones are 'auto'. */
  toolChoice?: ToolChoice;
  /** Generations that may call functions in one reply; the one after is 'none'. Default 8. */
  maxToolRounds?: number;
  /** Each function call once its handler returned. */
  onToolCall?: (call: ToolCallRecord) => void;
  signal?: AbortSignal;
  /** Each piece of the reply as it becomes valid text. */
  onText?: (text: string) => void;
  /** Context shifts and other things the user should be told. */
  onNotice?: (message: string) => void;
  /** Constrain this reply to a GBNF grammar (text or parsed); the reply ends where the grammar is complete. */
  grammar?: GrammarInput;
  /** Constrain this reply to JSON valid under this JSON schema (an object, or its JSON text). */
  jsonSchema?: unknown;
}

export type { StopReason } from '../generate.js';

export interface ReplyStats {
  /** Prompt tokens evaluated this turn (not found in the KV cache). */
  promptTokens: number;
  /** Prompt tokens reused from the KV cache. */
  reusedTokens: number;
  promptMs: number;
  generatedTokens: number;
  generateMs: number;
  stop: StopReason;
  /** Messages dropped by context shifts during this turn. */
  droppedMessages: number;
  /** The reply's text (the last generation's, without call markup). */
  text: string;
  /** Functions called during the reply, in order. */
  toolCalls: ToolCallRecord[];
}

/** What a saved conversation file holds (/save, /load). */
export interface SavedChat {
  format: 'run-gguf-chat';
  version: 1;
  messages: ChatMessage[];
  /**
   * The last prompt and reply as text and the ids the model saw for them:
   * with the sequence's saved state (Sequence.saveState), the next turn after
   * a reload evaluates only the new message. Optional.
   */
  seen?: { text: string; ids: number[] };
}

/** What the session needs of the model. */
export interface ChatModel {
  readonly tokenizer: Tokenizer;
}

const yieldToEventLoop: () => Promise<void> = typeof setImmediate === 'function'
  ? () => new Promise((r) => setImmediate(r))
  : () => new Promise((r) => setTimeout(r, 0));

export class ChatSession {
  readonly template: ChatTemplate;
  /** The sequence whose cells hold the conversation. */
  readonly sequence: Sequence;
  private system: string | undefined;
  private turns: ChatMessage[] = [];
  /**
   * The text of the last prompt and reply, and the ids the model saw for it
   * (the prompt's, then the reply's as sampled; the last of them may not be
   * in the cache yet). Undefined when no turn left such a pair.
   */
  private seen: { text: string; ids: number[] } | undefined;
  private sampler: Sampler;
  private maxTokens: number;
  /** The end-of-generation ids masked before sampling (--ignore-eos), or none. */
  private readonly banned: readonly number[];
  private readonly functions: Readonly<Record<string, ChatFunction>> | undefined;
  private readonly toolChoice: ToolChoice;
  private readonly parallelToolCalls: boolean;
  /** How the generation in progress deals with tools (undefined: no functions). */
  private plan: ToolTurn | undefined;
  /** The grammar or schema replies follow by default. */
  private readonly constraint: { grammar?: GrammarInput; jsonSchema?: unknown };
  /** Totals over the session, for /stats. */
  readonly totals = { replies: 0, promptTokens: 0, reusedTokens: 0, generatedTokens: 0, promptMs: 0, generateMs: 0, droppedMessages: 0 };

  /** On a sequence of a context, or on a context's default sequence. */
  constructor(readonly model: ChatModel, on: Context | Sequence, options: ChatSessionOptions) {
    this.sequence = on instanceof Context ? on.sequence : on;
    this.template = options.template;
    this.system = options.system || undefined;
    this.maxTokens = options.maxTokens ?? -1;
    const tok = model.tokenizer;
    this.banned = options.ignoreEos ? Array.from({ length: tok.vocabSize }, (_, id) => id).filter((id) => tok.isEog(id)) : [];
    this.sampler = createSampler(options);
    this.functions = options.functions && Object.keys(options.functions).length > 0 ? options.functions : undefined;
    this.toolChoice = options.toolChoice ?? 'auto';
    this.parallelToolCalls = options.parallelToolCalls ?? false;
    this.constraint = { grammar: options.grammar, jsonSchema: options.jsonSchema };
    grammarFromOptions(this.constraint, tok); // a bad grammar or schema throws now, not at the first reply
    this.sequence.reset();
  }

  /**
   * Changes how the next replies are sampled (a new sampler from these
   * options; its penalty history starts empty) and how long they may be.
   */
  configure(o: { sampling?: SamplerOptions; maxTokens?: number }): void {
    if (o.sampling) this.sampler = createSampler(o.sampling);
    if (o.maxTokens !== undefined) this.maxTokens = o.maxTokens;
  }

  /** The seed sampling started from (the random pick when none was given). */
  get seed(): number {
    return this.sampler.seed;
  }

  get systemPrompt(): string | undefined {
    return this.system;
  }

  /** The conversation, the system prompt first when there is one. */
  get messages(): ChatMessage[] {
    return this.system !== undefined ? [{ role: 'system', content: this.system }, ...this.turns] : [...this.turns];
  }

  /** Tokens in the KV cache. */
  get contextUsed(): number {
    return this.sequence.position;
  }

  /** Cells the conversation may take. */
  get contextSize(): number {
    return this.sequence.contextSize;
  }

  /** The ids in the KV cache, in order (a copy). */
  get cachedTokens(): number[] {
    return this.sequence.tokens;
  }

  /** Replaces the system prompt (undefined or '' removes it); the cache catches up on the next turn. */
  setSystem(text: string | undefined): void {
    this.system = text || undefined;
  }

  /** Forgets the conversation (the system prompt stays) and empties the KV cache. */
  reset(): void {
    this.turns = [];
    this.seen = undefined;
    this.sequence.reset();
    this.sampler.reset();
  }

  toJSON(): SavedChat {
    const saved: SavedChat = { format: 'run-gguf-chat', version: 1, messages: this.messages };
    if (this.seen) saved.seen = { text: this.seen.text, ids: [...this.seen.ids] };
    return saved;
  }

  /**
   * Replaces the conversation with saved messages (a leading system message
   * becomes the system prompt). `seen: true` also takes the saved ids the
   * model saw, for when the sequence's saved state was restored with them
   * (they are another model's ids otherwise).
   */
  load(saved: unknown, options: { seen?: boolean } = {}): void {
    const messages = parseSavedChat(saved);
    this.seen = undefined;
    const first = messages[0];
    if (first?.role === 'system') {
      this.system = first.content || undefined;
      this.turns = messages.slice(1);
    } else {
      this.system = undefined;
      this.turns = messages;
    }
    const seen = (saved as { seen?: { text?: unknown; ids?: unknown } } | null)?.seen;
    if (options.seen && seen && typeof seen.text === 'string' && Array.isArray(seen.ids) && seen.ids.every((id) => Number.isInteger(id) && id >= 0)) {
      this.seen = { text: seen.text, ids: seen.ids as number[] };
    }
  }

  /**
   * The conversation's prompt: its text, and its tokens with the ids the
   * model already saw for the start of that text when they can stand in for
   * it (see the top of this file).
   */
  private prompt(): { text: string; tokens: number[] } {
    const tok = this.model.tokenizer;
    const opts = { addSpecial: true, special: this.template.parseSpecial };
    const messages = this.plan ? this.plan.messages(this.messages) : this.messages;
    const text = chatPromptText(tok, this.template, messages, { addGenerationPrompt: true, tools: this.plan?.tools });
    const tokens = tok.tokenize(text, opts);
    const seen = this.seen;
    if (!seen || !text.startsWith(seen.text)) return { text, tokens };
    const head = tok.tokenize(seen.text, opts);
    if (tok.addEos && head.at(-1) === tok.eosId) head.pop();
    if (head.length > tokens.length || head.some((id, i) => id !== tokens[i])) return { text, tokens };
    return { text, tokens: [...seen.ids, ...tokens.slice(head.length)] };
  }

  /**
   * Drops the oldest turns (whole user..assistant exchanges, never the system
   * prompt nor the last user message) until the rendered messages plus
   * `extra` tokens take at most `limit` tokens, or nothing more can go.
   */
  private fit(extra: number, limit: number): { text: string; tokens: number[]; dropped: number } {
    let { text, tokens } = this.prompt();
    let dropped = 0;
    while (tokens.length + extra > limit) {
      const lastUser = this.turns.map((m) => m.role).lastIndexOf('user');
      if (lastUser <= 0) break;
      // one exchange: the first message and everything up to the next user message
      let n = 1;
      while (n < lastUser && this.turns[n].role !== 'user') n++;
      this.turns.splice(0, n);
      dropped += n;
      ({ text, tokens } = this.prompt());
    }
    return { text, tokens, dropped };
  }

  /**
   * Brings the KV cache to `tokens` evaluating only what differs (the
   * sequence keeps the common prefix), a batch at a time with the event loop
   * free in between; returns the logits of the last token, or undefined when
   * aborted.
   */
  private async ingest(tokens: readonly number[], signal?: AbortSignal): Promise<{ logits?: Float32Array; evaluated: number; reused: number }> {
    const seq = this.sequence;
    const keep = seq.keepPrefix(tokens);
    const step = seq.batchSize;
    let logits: Float32Array | undefined;
    for (let i = keep; i < tokens.length; i += step) {
      if (signal?.aborted) return { evaluated: i - keep, reused: keep };
      const chunk = tokens.slice(i, i + step);
      logits = seq.append(chunk);
      for (const id of chunk) this.sampler.accept(id);
      if (i + step < tokens.length) await yieldToEventLoop();
    }
    return { logits, evaluated: tokens.length - keep, reused: keep };
  }

  /**
   * Adds a user message and generates the assistant's reply, streaming it
   * through onText. Resolves when the reply ends (end-of-generation token,
   * maxTokens, abort or a context that cannot make room); the reply, partial
   * or not, joins the conversation. With functions, a reply that calls one
   * runs its handler, adds the call and its result to the conversation and
   * generates again, until the model answers in text (see ./tools).
   */
  async reply(userText: string, options: ReplyOptions = {}): Promise<ReplyStats> {
    // a bad grammar or schema throws here, before the conversation changes
    const own = options.grammar !== undefined || options.jsonSchema !== undefined;
    const userConstraint = own ? options : this.constraint;
    grammarFromOptions(userConstraint, this.model.tokenizer);
    const stats: ReplyStats = {
      promptTokens: 0, reusedTokens: 0, promptMs: 0, generatedTokens: 0, generateMs: 0, stop: 'eog', droppedMessages: 0, text: '', toolCalls: [],
    };
    this.turns.push({ role: 'user', content: userText });
    const functions = this.functions;
    const maxRounds = options.maxToolRounds ?? 8;
    try {
      for (let round = 0; ; round++) {
        // the choice holds for the first generation; after a call the model may answer
        const choice: ToolChoice = !functions ? 'none' : round >= maxRounds ? 'none' : round === 0 ? (options.toolChoice ?? this.toolChoice) : 'auto';
        this.plan = functions ? planToolTurn(this.template, functions, choice, this.parallelToolCalls, this.model.tokenizer) : undefined;
        const ok = await this.generate(stats, options, round === 0, userConstraint);
        if (!ok) return this.finish(stats);
        const raw = stats.text;
        const plan = this.plan;
        if (!plan?.parse) break;
        let parsed: ParsedReply;
        try {
          parsed = plan.read(raw);
        } catch (err) {
          // a call cut short by maxTokens, the context or an abort is kept as text
          if (stats.stop === 'eog') throw err;
          options.onNotice?.(`the reply stopped inside a function call (${stats.stop}); kept as text`);
          break;
        }
        if (parsed.calls.length === 0) {
          this.turns[this.turns.length - 1] = { role: 'assistant', content: parsed.content };
          stats.text = parsed.content;
          // a reply held back whole (the generic format's JSON) reaches onText as its content
          if (!plan.grammar?.triggers) options.onText?.(parsed.content);
          break;
        }
        const message = callMessage(parsed.content, parsed.calls);
        this.turns[this.turns.length - 1] = message;
        this.seen = undefined;
        stats.text = parsed.content;
        for (const call of message.tool_calls!) {
          const f = functions![call.function.name]!;
          let result: unknown;
          if (!f.handler) throw new RangeError(`the model called ${call.function.name}, which has no handler`);
          try {
            result = await f.handler(call.function.arguments);
          } catch (err) {
            result = `Error: ${(err as Error)?.message ?? String(err)}`;
            options.onNotice?.(`function ${call.function.name} failed: ${(err as Error)?.message ?? String(err)}`);
          }
          const content = resultText(result);
          stats.toolCalls.push({ name: call.function.name, arguments: call.function.arguments, result: content });
          options.onToolCall?.({ id: call.id, name: call.function.name, arguments: call.function.arguments, result: content });
          this.turns.push({ role: 'tool', tool_call_id: call.id, name: call.function.name, content });
        }
        if (options.signal?.aborted) {
          stats.stop = 'aborted';
          break;
        }
        if (stats.stop !== 'eog') break;
      }
    } finally {
      this.plan = undefined;
    }
    return this.finish(stats);
  }

  /**
   * One generation from the conversation as it stands (its last message is
   * the user's or a tool result); the reply's raw text joins it as an
   * assistant message. False when nothing was generated and the caller
   * should stop (the prompt did not fit, or an abort).
   */
  private async generate(
    stats: ReplyStats, options: ReplyOptions, first: boolean, userConstraint: { grammar?: GrammarInput; jsonSchema?: unknown },
  ): Promise<boolean> {
    const { signal, onText, onNotice } = options;
    const tok = this.model.tokenizer;
    const nCtx = this.sequence.contextSize;
    const t0 = performance.now();
    let { text: promptText, tokens: prompt } = this.prompt();
    if (prompt.length >= nCtx) {
      const { text, tokens, dropped } = this.fit(0, Math.floor(nCtx / 2));
      promptText = text;
      prompt = tokens;
      stats.droppedMessages += dropped;
      if (dropped) onNotice?.(`context full: dropped the ${dropped} oldest message${dropped === 1 ? '' : 's'}${this.system ? ' (the system prompt stays)' : ''}`);
    }
    if (prompt.length >= nCtx) {
      if (first) this.turns.pop();
      onNotice?.(`the prompt takes ${prompt.length} tokens but the context holds ${nCtx}; message not sent (a larger -c helps)`);
      stats.stop = 'context-full';
      return false;
    }
    const ingested = await this.ingest(prompt, signal);
    stats.promptTokens += ingested.evaluated;
    stats.reusedTokens += ingested.reused;
    stats.promptMs += performance.now() - t0;
    const logits = ingested.logits;
    if (!logits) {
      if (first) this.turns.pop(); // aborted before the model saw the message
      this.seen = undefined;
      stats.stop = 'aborted';
      return false;
    }

    const t1 = performance.now();
    const plan = this.plan;
    const g = plan?.grammar;
    // a call grammar when functions may be called; else the reply's own grammar or schema, if any
    const grammar = g ? (g.triggers ? new LazyGrammar(g.gbnf, tok, g.triggers) : createGrammarConstraint(g.gbnf, tok)) : grammarFromOptions(userConstraint, tok);
    const stream = new ReplyStream(onText, plan?.parse ? (g?.triggers ?? null) : []);
    const loop = tokenLoop(this.sequence, tok, this.sampler, logits, {
      maxTokens: this.maxTokens,
      signal,
      banned: this.banned,
      grammar,
      // tool-call markers are special tokens in most vocabularies
      special: plan?.parse ?? false,
      // context shift in the middle of a reply: the kept conversation, its
      // generation prompt, then the reply so far
      onContextFull: async (replyIds) => {
        const { text: keptText, tokens, dropped } = this.fit(replyIds.length, Math.floor(nCtx / 2));
        stats.droppedMessages += dropped;
        if (tokens.length + replyIds.length > nCtx - 1 || dropped === 0) {
          onNotice?.(`context full (${nCtx} tokens): reply stopped${dropped ? '' : '; nothing left to drop'}`);
          return undefined;
        }
        onNotice?.(`context full: dropped the ${dropped} oldest message${dropped === 1 ? '' : 's'}${this.system ? ' (the system prompt stays)' : ''}`);
        promptText = keptText;
        prompt = tokens;
        const shifted = await this.ingest([...tokens, ...replyIds], signal);
        return shifted.logits;
      },
    });
    let step = await loop.next();
    for (; !step.done; step = await loop.next()) stream.push(step.value.text);
    const end = step.value;
    // an abort during a context shift's ingest ends the loop as context-full; it was an abort
    stats.stop = end.stop === 'context-full' && signal?.aborted ? 'aborted' : end.stop;
    const replyIds = end.tokens;
    stream.push(end.rest);
    const text = stream.text;
    stats.generatedTokens += replyIds.length;
    stats.generateMs += performance.now() - t1;
    stats.text = text;
    if (replyIds.length > 0 || stats.stop !== 'aborted') {
      this.turns.push({ role: 'assistant', content: text });
      this.seen = { text: promptText + text, ids: [...prompt, ...replyIds] };
      // text held back (a possible call that was not one) reaches onText now
      if (!plan?.parse || (g?.triggers && !(grammar as LazyGrammar).triggered)) stream.flush();
      return true;
    }
    if (first) this.turns.pop();
    this.seen = undefined;
    return false;
  }

  private finish(stats: ReplyStats): ReplyStats {
    const t = this.totals;
    t.replies++;
    t.promptTokens += stats.promptTokens;
    t.reusedTokens += stats.reusedTokens;
    t.generatedTokens += stats.generatedTokens;
    t.promptMs += stats.promptMs;
    t.generateMs += stats.generateMs;
    t.droppedMessages += stats.droppedMessages;
    return stats;
  }
}

/** Validates a saved conversation ({format, version, messages} or a bare message array). */
export function parseSavedChat(saved: unknown): ChatMessage[] {
  const list = Array.isArray(saved) ? saved : (saved as { messages?: unknown } | null)?.messages;
  if (!Array.isArray(list)) throw new TypeError('not a saved conversation: expected {"messages": [{"role", "content"}, ...]}');
  return list.map((m, i) => {
    if (!isChatMessage(m)) throw new TypeError(`message ${i + 1} is not {"role": "system"|"user"|"assistant"|"tool", "content": string}`);
    return { ...m };
  });
}
