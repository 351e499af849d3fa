// Rendering a Jinja chat template under limits. The template comes from the
// model file (tokenizer.chat_template), so it is untrusted input: without a
// bound, `range(1e8)` allocates gigabytes and two nested loops never end.
// @huggingface/jinja's Template.render has no hook, so this runs its
// Interpreter itself, with three bounds checked as it goes:
//   steps   every node the interpreter evaluates counts one; loops, macros and
//           recursion all go through evaluate(), so this bounds the work;
//   time    wall-clock, checked every 256 steps, for steps that are slow;
//           A loop's body counts 4 steps per item even when it is empty,
//           and range() a step per item it makes;
//   output  no string value (the rendered text included) longer than
//           maxOutputChars and no list longer than maxItems; range() refuses
//           to build a longer list, since it builds it in one step.
// Exceeding one is a ChatTemplateError whose message names the limit and
// whose `limit` field says which.
import * as jinja from '@huggingface/jinja';
import type { Template } from '@huggingface/jinja';
import { ChatTemplateError } from '../errors.js';

// The package's declarations of its runtime do not resolve under NodeNext
// (extensionless imports in its .d.ts), so the little used here is declared.
interface Value {
  value: unknown;
}
interface Environment {
  set(name: string, value: unknown): unknown;
}
interface InterpreterLike {
  evaluate(statement: unknown, environment: Environment): Value;
  evaluateBlock(statements: unknown[], environment: Environment): Value;
  run(program: unknown): Value;
}
const Environment = jinja.Environment as unknown as new () => Environment;
const Interpreter = jinja.Interpreter as unknown as new (env: Environment) => InterpreterLike;

export interface TemplateLimits {
  /** Interpreter steps (nodes evaluated) per render. Default 1,000,000 (a Llama 3 or DeepSeek template takes 25-60 per message). */
  maxSteps?: number;
  /** Milliseconds per render. Default 5000. */
  maxMs?: number;
  /** Characters in any string the template builds, the prompt included. Default 16 Mi. */
  maxOutputChars?: number;
  /** Items in any list the template builds or is given (range() included). Default 1,000,000. */
  maxItems?: number;
}

export const DEFAULT_TEMPLATE_LIMITS: Readonly<Required<TemplateLimits>> = {
  maxSteps: 1_000_000,
  maxMs: 5000,
  maxOutputChars: 16 * 1024 * 1024,
  maxItems: 1_000_000,
};


const count = (n: number) => n.toLocaleString('en-US');

class LimitedInterpreter extends Interpreter {
  private steps = 0;
  private readonly deadline: number;

  constructor(env: Environment, private readonly limits: Required<TemplateLimits>) {
    super(env);
    this.deadline = performance.now() + limits.maxMs;
  }

  /** Counts `n` steps against the limit; the clock is read every 256th step. */
  charge(n: number): void {
    const { maxSteps, maxMs } = this.limits;
    const before = this.steps;
    this.steps += n;
    if (this.steps > maxSteps) {
      throw new ChatTemplateError(`the chat template exceeded its limit of ${count(maxSteps)} evaluation steps`, 'steps');
    }
    if ((before >>> 8) !== (this.steps >>> 8) && performance.now() > this.deadline) {
      throw new ChatTemplateError(`the chat template exceeded its time limit of ${count(maxMs)} ms`, 'time');
    }
  }

  override evaluate(statement: unknown, environment: Environment): Value {
    this.charge(1);
    const value = super.evaluate(statement, environment);
    const v = value.value;
    tooLong(v, this.limits);
    return value;
  }

  /**
   * A loop runs its body through here once per item, even an empty body.
   * An item costs more than a step (a scope and a loop object are built for
   * it), hence 4.
   */
  override evaluateBlock(statements: unknown[], environment: Environment): Value {
    this.charge(4);
    return super.evaluateBlock(statements, environment);
  }
}

function tooLong(v: unknown, limits: Required<TemplateLimits>): void {
  if (typeof v === 'string' && v.length > limits.maxOutputChars) {
    throw new ChatTemplateError(`the chat template exceeded its output limit of ${count(limits.maxOutputChars)} characters`, 'output');
  }
  if (Array.isArray(v) && v.length > limits.maxItems) {
    throw new ChatTemplateError(`the chat template exceeded its output limit of ${count(limits.maxItems)} list items`, 'output');
  }
}

/** Python's range(), refusing lists longer than `max` before building them; each item costs a step. */
function boundedRange(max: number, charge: (n: number) => void) {
  return (start: number, stop?: number, step = 1): number[] => {
    if (stop === undefined) [start, stop] = [0, start];
    if (![start, stop, step].every(Number.isFinite)) throw new Error('range() expects finite numbers');
    if (step === 0) throw new Error('range() step must not be zero');
    const n = Math.max(0, Math.ceil((stop - start) / step));
    if (n > max) throw new ChatTemplateError(`the chat template exceeded its output limit of ${count(max)} list items (range of ${count(n)})`, 'output');
    charge(n);
    return Array.from({ length: n }, (_, i) => start + i * step);
  };
}

/** strftime_now(format) with the directives chat templates use (Llama 3.x: "%d %b %Y"). */
function strftimeNow(format: string): string {
  const d = new Date();
  const two = (n: number) => String(n).padStart(2, '0');
  const month = (style: 'long' | 'short') => new Intl.DateTimeFormat('en-US', { month: style }).format(d);
  const table: Record<string, () => string> = {
    Y: () => String(d.getFullYear()), y: () => two(d.getFullYear() % 100), m: () => two(d.getMonth() + 1),
    d: () => two(d.getDate()), b: () => month('short'), B: () => month('long'), H: () => two(d.getHours()),
    M: () => two(d.getMinutes()), S: () => two(d.getSeconds()), '%': () => '%',
  };
  return String(format).replace(/%(.)/g, (all, c: string) => table[c]?.() ?? all);
}

/** Renders a parsed template with `items` as its variables, under the limits. */
export function renderLimited(template: Template, items: Record<string, unknown>, limits: TemplateLimits = {}): string {
  const l = { ...DEFAULT_TEMPLATE_LIMITS, ...limits };
  const env = new Environment();
  const interpreter = new LimitedInterpreter(env, l);
  // the globals Template.render sets up, with range() bounded
  const globals: Record<string, unknown> = {
    false: false, true: true, none: null, False: false, True: true, None: null,
    raise_exception: (msg: unknown) => {
      throw new Error(String(msg));
    },
    range: boundedRange(l.maxItems, (n) => interpreter.charge(n)),
    strftime_now: strftimeNow,
  };
  for (const [k, v] of Object.entries({ ...globals, ...items })) env.set(k, v);
  const out = interpreter.run(template.parsed).value;
  tooLong(out, l);
  return String(out);
}
