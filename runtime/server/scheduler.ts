// Slots and the step loop. Each slot is a sequence of one context (its own
// cells, contextSize / slots of them). A request waits in a FIFO queue for a
// free slot; the free slot whose previous prompt shares the longest prefix
// with the new one is chosen (else the least recently used), and keeps that
// prefix's cells. Then, step by step, every generating slot contributes the
// token it sampled last and prompting slots chunks of their prompts in the
// room left of batchSize; evaluateStep (step.ts) evaluates them all, and each
// slot whose prompt is done samples from its logits. A slot whose client went
// away is dropped at the next step.
import type { Context } from '../context.js';
import { TokenPicker } from '../generate.js';
import { LazyGrammar } from '../chat/tools/lazy.js';
import { createGrammarConstraint, createSampler } from '../sample/index.js';
import type { Sequence } from '../sequence.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { ApiError } from './errors.js';
import type { Metrics } from './metrics.js';
import type { GenerationParams } from './requests.js';
import { evaluateStep, type SlotWork } from './step.js';
import { StopFilter } from './stop.js';

export type FinishReason = 'stop' | 'length' | 'aborted';

export interface TopLogprob {
  token: string;
  logprob: number;
  bytes: number[];
}

export interface TokenLogprob extends TopLogprob {
  top: TopLogprob[];
}

/** One sampled token: the text it releases (stop strings held back; may be ''), with its logprob when asked. */
export interface GeneratedToken {
  id: number;
  text: string;
  logprob?: TokenLogprob;
}

export interface Job {
  prompt: readonly number[];
  params: GenerationParams;
  signal: AbortSignal;
  onToken?: (t: GeneratedToken) => void;
}

export interface JobResult {
  /** The reply (after stop strings). */
  text: string;
  finishReason: FinishReason;
  promptTokens: number;
  /** Prompt tokens the slot already held from its previous prompt. */
  cachedTokens: number;
  completionTokens: number;
  slot: number;
}

interface Queued {
  job: Job;
  resolve: (r: JobResult) => void;
  reject: (e: unknown) => void;
}

interface Active extends Queued {
  /** Prompt tokens still to evaluate. */
  pending: number[];
  /** The token sampled last, evaluated in the next step. */
  next: number | undefined;
  picker: TokenPicker;
  filter: StopFilter;
  text: string;
  cachedTokens: number;
}

class Slot {
  active: Active | undefined;
  lastUsed = 0;
  constructor(readonly sequence: Sequence) {}
}

const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));

/** Log-probabilities of the chosen token and the `top` most likely, from raw logits (before sampling's filters). */
export function logprobsOf(tok: Tokenizer, logits: Float32Array, chosen: number, top: number): TokenLogprob {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  const norm = max + Math.log(sum);
  const entry = (id: number): TopLogprob => {
    const bytes = tok.tokenToPieceBytes(id);
    return { token: tok.tokenToPiece(id), logprob: logits[id]! - norm, bytes: [...bytes] };
  };
  // the `top` best, kept sorted (top <= 20)
  const best: number[] = [];
  for (let i = 0; i < logits.length && top > 0; i++) {
    const v = logits[i]!;
    if (best.length === top && v <= logits[best[top - 1]!]!) continue;
    let j = best.length === top ? top - 1 : best.length;
    while (j > 0 && logits[best[j - 1]!]! < v) {
      best[j] = best[j - 1]!;
      j--;
    }
    best[j] = i;
  }
  return { ...entry(chosen), top: best.map(entry) };
}

export class Scheduler {
  readonly slots: Slot[];
  private readonly queue: Queued[] = [];
  private running = false;
  private clock = 0;

  constructor(private readonly context: Context, private readonly tokenizer: Tokenizer, private readonly metrics: Metrics) {
    this.slots = Array.from({ length: context.sequences }, () => new Slot(context.createSequence()));
  }

  /** Cells per slot. */
  get contextSize(): number {
    return this.context.contextSize;
  }

  get busy(): number {
    return this.slots.filter((s) => s.active).length;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Queues a generation; resolves when it ends (stop, length, or its signal aborted it). */
  submit(job: Job): Promise<JobResult> {
    const n = job.prompt.length;
    if (n === 0) throw new ApiError(400, 'the prompt is empty (no tokens)', 'invalid_request_error', 'prompt', 'invalid_value');
    if (n > this.contextSize) {
      throw new ApiError(400, `request (${n} tokens) exceeds the available context size (${this.contextSize} tokens), try increasing it`,
        'exceed_context_size_error', null, 'context_length_exceeded', { n_prompt_tokens: n, n_ctx: this.contextSize });
    }
    return new Promise<JobResult>((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      // after the caller has sent its response headers: the first step can emit tokens
      setImmediate(() => void this.loop().catch((err) => this.failAll(err)));
    });
  }

  /** Gives queued jobs the free slots, the best prefix match first. */
  private admit(): void {
    for (let i = 0; i < this.queue.length;) {
      const q = this.queue[i]!;
      if (q.job.signal.aborted) {
        this.queue.splice(i, 1);
        this.metrics.aborted++;
        q.resolve({ text: '', finishReason: 'aborted', promptTokens: q.job.prompt.length, cachedTokens: 0, completionTokens: 0, slot: -1 });
        continue;
      }
      const free = this.slots.filter((s) => !s.active);
      if (free.length === 0) return;
      this.queue.splice(i, 1);
      const prompt = q.job.prompt;
      const common = (s: Slot) => {
        const held = s.sequence.tokens;
        let k = 0;
        while (k < held.length && k < prompt.length && held[k] === prompt[k]) k++;
        return k;
      };
      let slot = free[0]!;
      let bestLen = common(slot);
      for (const s of free.slice(1)) {
        const c = common(s);
        if (c > bestLen || (c === bestLen && s.lastUsed < slot.lastUsed)) {
          slot = s;
          bestLen = c;
        }
      }
      const cached = slot.sequence.keepPrefix(prompt);
      const sampler = createSampler(q.job.params.sampling);
      for (const id of prompt) sampler.accept(id);
      const g = q.job.params.grammar;
      const grammar = g ? (g.triggers ? new LazyGrammar(g.gbnf, this.tokenizer, g.triggers) : createGrammarConstraint(g.gbnf, this.tokenizer)) : undefined;
      slot.active = {
        ...q, pending: prompt.slice(cached), next: undefined, picker: new TokenPicker(this.tokenizer, sampler, undefined, grammar, q.job.params.special),
        filter: new StopFilter(q.job.params.stop), text: '', cachedTokens: cached,
      };
      this.metrics.cachedPromptTokens += cached;
    }
  }

  private async loop(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (;;) {
        this.admit();
        const work: SlotWork[] = [];
        const owners: Slot[] = [];
        let promptTokens = 0;
        // one token per generating slot first, then prompt chunks in the room left of batchSize
        const prompting: Slot[] = [];
        for (const s of this.slots) {
          const a = s.active;
          if (!a) continue;
          if (a.job.signal.aborted) {
            this.finish(s, 'aborted');
          } else if (a.pending.length > 0) {
            prompting.push(s);
          } else if (a.next !== undefined) {
            work.push({ sequence: s.sequence, tokens: [a.next] });
            a.next = undefined;
            owners.push(s);
          } else {
            this.fail(s, new Error(`slot ${s.sequence.slot} has nothing to evaluate`));
          }
        }
        // with no room left (slots >= batchSize), one prompt still advances so none starves
        let room = Math.max(this.context.batchSize - work.length, prompting.length > 0 && work.length === 0 ? 1 : 0);
        for (const s of prompting) {
          if (room <= 0) break;
          const chunk = s.active!.pending.splice(0, room);
          room -= chunk.length;
          promptTokens += chunk.length;
          work.push({ sequence: s.sequence, tokens: chunk });
          owners.push(s);
        }
        if (work.length === 0) {
          if (this.queue.length === 0) return;
          continue;
        }
        const t0 = performance.now();
        let logits: Float32Array[];
        try {
          logits = evaluateStep(this.context, work);
        } catch (err) {
          for (const s of owners) this.fail(s, err);
          continue;
        }
        const seconds = (performance.now() - t0) / 1000;
        this.metrics.promptTokens += promptTokens;
        // a step mixing prompt chunks and generated tokens: its time shared by token count
        const total = work.reduce((n, w) => n + w.tokens.length, 0);
        this.metrics.promptSeconds += (seconds * promptTokens) / total;
        this.metrics.generationSeconds += (seconds * (total - promptTokens)) / total;
        owners.forEach((s, i) => {
          if (s.active!.pending.length === 0) this.advance(s, logits[i]!);
        });
        await yieldToEventLoop();
      }
    } finally {
      this.running = false;
    }
  }

  /** Samples the slot's next token from its logits and decides whether it goes on. */
  private advance(s: Slot, logits: Float32Array): void {
    const a = s.active!;
    const { maxTokens, topLogprobs, logitBias } = a.job.params;
    if (maxTokens >= 0 && a.picker.tokens.length >= maxTokens) return this.finish(s, 'length');
    // logprobs report the model's distribution: taken before the bias
    const raw = topLogprobs !== undefined && logitBias.size > 0 ? logits.slice() : logits;
    for (const [id, bias] of logitBias) logits[id] = bias <= -100 ? -Infinity : logits[id]! + bias;
    const t = a.picker.pick(logits);
    if (t === 'eog') return this.finish(s, 'stop');
    this.metrics.generatedTokens++;
    const r = a.filter.push(t.text);
    a.text += r.text;
    const logprob = topLogprobs !== undefined ? logprobsOf(this.tokenizer, raw, t.id, topLogprobs) : undefined;
    this.emit(a, { id: t.id, text: r.text, logprob });
    if (r.stopped) return this.finish(s, 'stop', true);
    if (maxTokens >= 0 && a.picker.tokens.length >= maxTokens) return this.finish(s, 'length');
    // the token is evaluated in the next step, if a cell is left for it
    if (s.sequence.position + 1 > s.sequence.contextSize) return this.finish(s, 'length');
    a.next = t.id;
  }

  private emit(a: Active, t: GeneratedToken): void {
    try {
      a.job.onToken?.(t);
    } catch {
      // a failing listener (a closed socket) must not stop the other slots
    }
  }

  private finish(s: Slot, reason: FinishReason, byStopString = false): void {
    const a = s.active!;
    s.active = undefined;
    s.lastUsed = ++this.clock;
    if (reason === 'aborted') this.metrics.aborted++;
    else if (!byStopString) {
      const rest = a.filter.flush(a.picker.flush());
      if (rest.text) {
        a.text += rest.text;
        this.emit(a, { id: -1, text: rest.text });
      }
    }
    a.resolve({
      text: a.text, finishReason: reason, promptTokens: a.job.prompt.length, cachedTokens: a.cachedTokens,
      completionTokens: a.picker.tokens.length, slot: s.sequence.slot,
    });
  }

  private fail(s: Slot, err: unknown): void {
    const a = s.active!;
    s.active = undefined;
    s.lastUsed = ++this.clock;
    // what the cells hold is unknown after a failed run
    s.sequence.reset();
    a.reject(err);
  }

  private failAll(err: unknown): void {
    for (const q of this.queue.splice(0)) q.reject(err);
    for (const s of this.slots) if (s.active) this.fail(s, err);
  }

  /** Ends every job (the server is closing). */
  close(): void {
    this.failAll(new ApiError(503, 'the server is shutting down', 'server_error', null, 'unavailable'));
  }
}
