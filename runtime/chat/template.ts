// Choosing and rendering a model's chat template.
//
// Order, as llama.cpp resolves it with --jinja: an explicit --chat-template
// (a built-in name or Jinja text), else the file's tokenizer.chat_template
// rendered with Jinja, else a built-in format guessed from the model family.
// Where llama.cpp would fall back to ChatML for any model, a model with no
// sign of chat training here gets plain completion instead, and the choice is
// always reported (ChatTemplate.origin) so the screen can say which it is.
import { ChatTemplateError } from '../errors.js';
import { Template } from '@huggingface/jinja';
import { renderLimited, type TemplateLimits } from './jinja-limits.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { BUILTIN_TEMPLATES, detectTemplate, TEMPLATE_ALIASES, type BuiltinRender } from './builtin.js';
import { templateMessage, type ChatMessage } from './types.js';

/** A tool as chat templates receive it (OpenAI's shape, the `tools` variable). */
export interface TemplateTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: unknown };
}

export interface RenderOptions {
  /** Open the assistant's turn at the end (HF/llama.cpp add_generation_prompt). Default true. */
  addGenerationPrompt?: boolean;
  /** The tools the model may call, passed as the template's `tools` variable. Default: none (undefined). */
  tools?: readonly TemplateTool[];
}

export interface ChatTemplate {
  /** 'jinja': the file's or a given Jinja template; 'builtin': a llama.cpp named format; 'completion': no template. */
  readonly kind: 'jinja' | 'builtin' | 'completion';
  /** Short name for the screen: "jinja", "chatml", "llama3", "completion", ... */
  readonly name: string;
  /** Where it came from, for the screen ("the model's Jinja template", "fallback: ..."). */
  readonly origin: string;
  /**
   * Whether the rendered prompt is tokenized with special tokens parsed
   * (templates write <|im_start|> etc. as text). Plain completion does not.
   */
  readonly parseSpecial: boolean;
  render(messages: readonly ChatMessage[], options?: RenderOptions): string;
}

export { ChatTemplateError };

/** The special-token strings a Jinja template sees, as llama.cpp passes them. */
export interface TemplateTokens {
  bosToken: string;
  eosToken: string;
}

/** A Jinja chat template (tokenizer.chat_template or --chat-template FILE). */
export class JinjaChatTemplate implements ChatTemplate {
  readonly kind = 'jinja' as const;
  readonly name = 'jinja';
  readonly parseSpecial = true;
  private readonly template: Template;
  private systemRole: boolean | undefined;

  constructor(
    readonly source: string, private readonly tokens: TemplateTokens, readonly origin = 'Jinja template',
    private readonly limits: TemplateLimits = {},
  ) {
    try {
      this.template = new Template(source);
    } catch (err) {
      throw new ChatTemplateError(`the Jinja chat template does not parse: ${(err as Error).message}`);
    }
  }

  /**
   * Whether the template renders a system message. Templates such as Gemma's
   * raise on one; llama.cpp's minja then folds the system text into the first
   * user message, and so does render().
   */
  get supportsSystemRole(): boolean {
    if (this.systemRole === undefined) {
      const probe = '<<system probe 7f3a>>';
      try {
        this.systemRole = this.raw([{ role: 'system', content: probe }, { role: 'user', content: 'x' }], false).includes(probe);
      } catch (err) {
        // a template that runs into a limit would run into it again: say so now
        if (err instanceof ChatTemplateError && err.limit) throw err;
        this.systemRole = false;
      }
    }
    return this.systemRole;
  }

  render(messages: readonly ChatMessage[], options: RenderOptions = {}): string {
    const gen = options.addGenerationPrompt ?? true;
    const list = messages.some((m) => m.role === 'system') && !this.supportsSystemRole ? foldSystem(messages) : messages;
    try {
      return this.raw(list, gen, options.tools);
    } catch (err) {
      if (err instanceof ChatTemplateError && err.limit) throw err;
      throw new ChatTemplateError(`the chat template failed to render: ${(err as Error).message}`);
    }
  }

  /** Whether the template reads a `tools` variable (tool lists are rendered by the template itself). */
  get usesTools(): boolean {
    return /\btools\b/.test(this.source);
  }

  private raw(messages: readonly ChatMessage[], addGenerationPrompt: boolean, tools?: readonly TemplateTool[]): string {
    const vars: Record<string, unknown> = {
      // fresh objects: templates may `set` on what they are given
      messages: messages.map(templateMessage),
      add_generation_prompt: addGenerationPrompt,
      bos_token: this.tokens.bosToken,
      eos_token: this.tokens.eosToken,
    };
    if (tools) vars.tools = tools.map((t) => JSON.parse(JSON.stringify(t)) as unknown);
    // under the step, time and output limits (jinja-limits.ts)
    return renderLimited(this.template, vars, this.limits);
  }
}

/**
 * minja's system-role polyfill: system text joins the next user message
 * (with "\n"), or stands as a user message of its own when none follows.
 */
export function foldSystem(messages: readonly ChatMessage[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  let pending = '';
  const flush = () => {
    if (pending) out.push({ role: 'user', content: pending });
    pending = '';
  };
  for (const m of messages) {
    if (m.role === 'system') {
      pending = pending ? `${pending}\n${m.content}` : m.content;
    } else if (m.role === 'user' && pending) {
      out.push({ role: 'user', content: m.content ? `${pending}\n${m.content}` : pending });
      pending = '';
    } else {
      flush();
      out.push(m);
    }
  }
  flush();
  return out;
}

export class BuiltinChatTemplate implements ChatTemplate {
  readonly kind = 'builtin' as const;
  readonly parseSpecial = true;
  private readonly fn: BuiltinRender;

  constructor(readonly name: string, readonly origin: string) {
    const fn = BUILTIN_TEMPLATES[name];
    if (!fn) throw new ChatTemplateError(`unknown chat template "${name}"`);
    this.fn = fn;
  }

  render(messages: readonly ChatMessage[], options: RenderOptions = {}): string {
    return this.fn(messages, options.addGenerationPrompt ?? true);
  }
}

/**
 * No template: the conversation is one running text. Each user message
 * starts a new line; the reply continues the user's text directly.
 */
export class CompletionTemplate implements ChatTemplate {
  readonly kind = 'completion' as const;
  readonly name = 'completion';
  readonly parseSpecial = false;
  constructor(readonly origin: string) {}

  render(messages: readonly ChatMessage[]): string {
    let out = '';
    messages.forEach((m, i) => {
      out += (i > 0 && m.role !== 'assistant' ? '\n' : '') + m.content;
    });
    return out;
  }
}

/** Every name --chat-template accepts. */
export function templateNames(): string[] {
  return [...Object.keys(BUILTIN_TEMPLATES), ...Object.keys(TEMPLATE_ALIASES), 'completion'].sort();
}

/** What resolveChatTemplate needs to know of the model. */
export interface TemplateModelInfo {
  /** Metadata lookup (GGUF key -> value). */
  get(key: string): unknown;
  tokenizer: Tokenizer;
  /** The file name, a hint of instruction tuning when the metadata gives none. */
  fileName?: string;
}

export interface ResolveOptions {
  /**
   * --chat-template: a built-in name, "completion", or Jinja text (the CLI
   * reads a FILE and passes its text with `overrideLabel` naming it).
   */
  override?: string;
  overrideLabel?: string;
  /** Bounds on rendering a Jinja template (steps, time, output size); see jinja-limits.ts. */
  limits?: TemplateLimits;
  /**
   * When the Jinja template runs into a limit, use the built-in format its
   * text or the model's family points to instead of failing. Default false:
   * a ChatTemplateError naming the limit.
   */
  fallback?: boolean;
}

/** The strings bos_token / eos_token stand for: the tokens' text, as llama.cpp renders them. */
export function templateTokens(tok: Tokenizer): TemplateTokens {
  const text = (id: number | undefined) => (id === undefined ? '' : tok.tokenToPiece(id, { special: true }));
  return { bosToken: text(tok.bosId), eosToken: text(tok.eosId) };
}

function looksLikeJinja(s: string): boolean {
  return s.includes('{{') || s.includes('{%');
}

export function resolveChatTemplate(model: TemplateModelInfo, options: ResolveOptions = {}): ChatTemplate {
  const tokens = templateTokens(model.tokenizer);
  const { override } = options;
  if (override !== undefined) {
    const label = options.overrideLabel ?? '--chat-template';
    if (override === 'completion' || override === 'none') return new CompletionTemplate(`${label}`);
    if (override in BUILTIN_TEMPLATES) return new BuiltinChatTemplate(override, label);
    if (override in TEMPLATE_ALIASES) return new BuiltinChatTemplate(TEMPLATE_ALIASES[override], `${label} ${override}`);
    if (looksLikeJinja(override)) return jinjaOrDetected(override, tokens, label, options, model);
    throw new ChatTemplateError(`unknown chat template "${override}" (a file, Jinja text, or one of: ${templateNames().join(', ')})`);
  }
  const own = model.get('tokenizer.chat_template');
  if (typeof own === 'string' && own.trim() !== '') return jinjaOrDetected(own, tokens, "the model's template", options, model);
  return familyFallback(model);
}

/**
 * Jinja when it parses and renders a probe conversation; else the built-in
 * format its text looks like. A template that runs into a rendering limit is
 * an error unless the caller asked for the fallback (options.fallback).
 */
function jinjaOrDetected(source: string, tokens: TemplateTokens, label: string, options: ResolveOptions, model: TemplateModelInfo): ChatTemplate {
  let problem: string;
  try {
    const t = new JinjaChatTemplate(source, tokens, label, options.limits);
    t.render([{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }, { role: 'user', content: 'bye' }]);
    return t;
  } catch (err) {
    problem = (err as Error).message;
    if (err instanceof ChatTemplateError && err.limit) {
      if (!options.fallback) throw new ChatTemplateError(`${label}: ${problem}`, err.limit);
      const name = detectTemplate(source);
      if (name) return new BuiltinChatTemplate(name, `${label} ran into a limit (${problem}); its markers say ${name}`);
      const family = familyFallback(model);
      const why = `${label} ran into a limit (${problem}); ${family.origin}`;
      return family.kind === 'builtin' ? new BuiltinChatTemplate(family.name, why) : new CompletionTemplate(why);
    }
  }
  const name = detectTemplate(source);
  if (name) return new BuiltinChatTemplate(name, `${label} does not render here (${problem}); its markers say ${name}`);
  throw new ChatTemplateError(`${label}: ${problem}`);
}

/** Markers in the vocabulary that only chat-tuned families carry, in llama.cpp's detection order. */
const VOCAB_MARKERS: ReadonlyArray<[string[], string]> = [
  [['<|im_start|>', '<|im_sep|>'], 'phi4'],
  [['<|im_start|>'], 'chatml'],
  [['[SYSTEM_PROMPT]'], 'mistral-v7'],
  [['[INST]', '[/INST]'], 'mistral-v3'],
  [['<|assistant|>', '<|end|>'], 'phi3'],
  [['<start_of_turn>'], 'gemma'],
  [['<|START_OF_TURN_TOKEN|>', '<|USER_TOKEN|>'], 'command-r'],
  [['<|start_header_id|>', '<|end_header_id|>'], 'llama3'],
  [['<｜Assistant｜>', '<｜User｜>'], 'deepseek3'],
  [['<|header_start|>', '<|header_end|>', '<|eot|>'], 'llama4'],
  [['[gMASK]', '<sop>', '<|assistant|>'], 'chatglm4'],
  [['<|start_of_role|>', '<|end_of_role|>'], 'granite'],
  [['<|start|>', '<|channel|>', '<|message|>'], 'gpt-oss'],
];

const ARCH_TEMPLATES: Readonly<Record<string, string>> = {
  gemma: 'gemma', gemma2: 'gemma', gemma3: 'gemma',
  phi3: 'phi3',
  qwen: 'chatml', qwen2: 'chatml', qwen2moe: 'chatml', qwen3: 'chatml', qwen3moe: 'chatml',
  'command-r': 'command-r', cohere2: 'command-r',
  // DeepSeek-V2's "User: / Assistant:" turns; GLM-4.7-Flash's vocabulary is found above
  deepseek2: 'deepseek2',
  glm4moe: 'chatglm4',
  llama4: 'llama4',
  'gpt-oss': 'gpt-oss',
  granite: 'granite', granitemoe: 'granite', granitehybrid: 'granite-4.0',
};

/** A built-in format chosen from the vocabulary, the architecture or the name; else plain completion. */
export function familyFallback(model: TemplateModelInfo): ChatTemplate {
  const has = (t: string) => model.tokenizer.vocab.tokenToId.has(t);
  for (const [tokens, name] of VOCAB_MARKERS) {
    if (tokens.every(has)) return new BuiltinChatTemplate(name, `no template in the file; the vocabulary has ${tokens.join(' ')}`);
  }
  const arch = String(model.get('general.architecture') ?? '');
  const byArch = ARCH_TEMPLATES[arch];
  if (byArch) return new BuiltinChatTemplate(byArch, `no template in the file; architecture ${arch}`);
  const name = `${String(model.get('general.name') ?? '')} ${model.fileName ?? ''}`.toLowerCase();
  if (/chat|instruct|(^|[^a-z])it([^a-z]|$)/.test(name)) {
    if (arch === 'llama' && model.tokenizer.type === 'spm') return new BuiltinChatTemplate('llama2', 'no template in the file; a Llama 2-style chat model by its name');
    return new BuiltinChatTemplate('chatml', 'no template in the file; a chat model by its name');
  }
  return new CompletionTemplate('no chat template in the file');
}
