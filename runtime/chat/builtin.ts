// Built-in chat formats: what llama.cpp's llm_chat_apply_template produces
// for its named templates, for models whose file has no usable Jinja
// template, and for `--chat-template NAME`. Like llama.cpp, these never write
// the BOS token: the tokenizer adds it as the model's metadata asks.
import type { ChatMessage } from './types.js';

export type BuiltinRender = (messages: readonly ChatMessage[], addGenerationPrompt: boolean) => string;

/** Whitespace trim as llama.cpp's trim() does it (ASCII isspace only). */
function trim(s: string): string {
  return s.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, '');
}

function chatml(messages: readonly ChatMessage[], gen: boolean): string {
  let out = '';
  for (const m of messages) out += `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`;
  if (gen) out += '<|im_start|>assistant\n';
  return out;
}

/** Llama 2 and its variants; `mistral` templates of the v0.1/v0.2 era detect as plain llama2 too. */
function llama2(variant: { system: boolean; bosInHistory: boolean; strip: boolean }): BuiltinRender {
  return (messages) => {
    // the first [INST] has no <s>: the tokenizer's BOS opens the prompt
    let out = '[INST] ';
    let inTurn = true;
    for (const m of messages) {
      const content = variant.strip ? trim(m.content) : m.content;
      if (!inTurn) {
        out += variant.bosInHistory ? '<s>[INST] ' : '[INST] ';
        inTurn = true;
      }
      if (m.role === 'system') {
        out += variant.system ? `<<SYS>>\n${content}\n<</SYS>>\n\n` : `${content}\n`;
      } else if (m.role === 'user') {
        out += `${content} [/INST]`;
      } else {
        out += `${content}</s>`;
        inTurn = false;
      }
    }
    return out;
  };
}

/** Mistral's official v1 / v3 / v3-tekken formats (the system prompt joins the next [INST]). */
function mistral(kind: 'v1' | 'v3' | 'v3-tekken'): BuiltinRender {
  const lead = kind === 'v1' ? ' ' : '';
  const trail = kind === 'v3-tekken' ? '' : ' ';
  return (messages) => {
    let out = '';
    let inTurn = false;
    for (const m of messages) {
      if (!inTurn) {
        out += `${lead}[INST]${trail}`;
        inTurn = true;
      }
      if (m.role === 'system') out += `${m.content}\n\n`;
      else if (m.role === 'user') out += `${m.content}${lead}[/INST]`;
      else {
        out += `${trail}${kind === 'v3' ? trim(m.content) : m.content}</s>`;
        inTurn = false;
      }
    }
    return out;
  };
}

function mistralV7(tekken: boolean): BuiltinRender {
  const sp = tekken ? '' : ' ';
  return (messages) => {
    let out = '';
    for (const m of messages) {
      if (m.role === 'system') out += `[SYSTEM_PROMPT]${sp}${m.content}[/SYSTEM_PROMPT]`;
      else if (m.role === 'user') out += `[INST]${sp}${m.content}[/INST]`;
      else out += `${sp}${m.content}</s>`;
    }
    return out;
  };
}

function phi3(messages: readonly ChatMessage[], gen: boolean): string {
  let out = '';
  for (const m of messages) out += `<|${m.role}|>\n${m.content}<|end|>\n`;
  if (gen) out += '<|assistant|>\n';
  return out;
}

function phi4(messages: readonly ChatMessage[], gen: boolean): string {
  let out = '';
  for (const m of messages) out += `<|im_start|>${m.role}<|im_sep|>${m.content}<|im_end|>`;
  if (gen) out += '<|im_start|>assistant<|im_sep|>';
  return out;
}

function zephyr(messages: readonly ChatMessage[], gen: boolean): string {
  let out = '';
  for (const m of messages) out += `<|${m.role}|>\n${m.content}<|endoftext|>\n`;
  if (gen) out += '<|assistant|>\n';
  return out;
}

/** Gemma has no system role: its text opens the next user turn. */
function gemma(messages: readonly ChatMessage[], gen: boolean): string {
  let out = '';
  let system = '';
  for (const m of messages) {
    if (m.role === 'system') {
      system += trim(m.content);
      continue;
    }
    const role = m.role === 'assistant' ? 'model' : m.role;
    out += `<start_of_turn>${role}\n`;
    if (system && role !== 'model') {
      out += `${system}\n\n`;
      system = '';
    }
    out += `${trim(m.content)}<end_of_turn>\n`;
  }
  if (gen) out += '<start_of_turn>model\n';
  return out;
}

function llama3(messages: readonly ChatMessage[], gen: boolean): string {
  let out = '';
  for (const m of messages) out += `<|start_header_id|>${m.role}<|end_header_id|>\n\n${trim(m.content)}<|eot_id|>`;
  if (gen) out += '<|start_header_id|>assistant<|end_header_id|>\n\n';
  return out;
}

function deepseek3(messages: readonly ChatMessage[], gen: boolean): string {
  let out = '';
  for (const m of messages) {
    if (m.role === 'system') out += `${m.content}\n\n`;
    else if (m.role === 'user') out += `<｜User｜>${m.content}`;
    else if (m.role === 'assistant') out += `<｜Assistant｜>${m.content}<｜end▁of▁sentence｜>`;
    // llama.cpp writes no other role (a tool's result is left out)
  }
  if (gen) out += '<｜Assistant｜>';
  return out;
}

/** DeepSeek-V2 (and V2-Lite) Chat: "User: ...", "Assistant: ..." turns. */
function deepseek2(messages: readonly ChatMessage[], gen: boolean): string {
  let out = '';
  for (const m of messages) {
    if (m.role === 'system') out += `${m.content}\n\n`;
    else if (m.role === 'user') out += `User: ${m.content}\n\n`;
    else if (m.role === 'assistant') out += `Assistant: ${m.content}<｜end▁of▁sentence｜>`;
    // llama.cpp writes no other role (a tool's result is left out)
  }
  if (gen) out += 'Assistant:';
  return out;
}

/** GLM-4 (chatglm4): [gMASK]<sop>, then <|role|>\n and the text per message. */
function chatglm4(messages: readonly ChatMessage[], gen: boolean): string {
  let out = '[gMASK]<sop>';
  for (const m of messages) out += `<|${m.role}|>\n${m.content}`;
  if (gen) out += '<|assistant|>\n';
  return out;
}

function llama4(messages: readonly ChatMessage[], gen: boolean): string {
  let out = '';
  for (const m of messages) out += `<|header_start|>${m.role}<|header_end|>\n\n${trim(m.content)}<|eot|>`;
  if (gen) out += '<|header_start|>assistant<|header_end|>\n\n';
  return out;
}

/**
 * gpt-oss's harmony format as llama.cpp's named template writes it: each
 * message as <|start|>ROLE<|message|>TEXT, closed by <|return|> after the
 * assistant and <|end|> after the others (no channels: the model's Jinja
 * template adds those when it renders).
 */
function gptOss(messages: readonly ChatMessage[], gen: boolean): string {
  let out = '';
  for (const m of messages) out += `<|start|>${m.role}<|message|>${m.content}${m.role === 'assistant' ? '<|return|>' : '<|end|>'}`;
  if (gen) out += '<|start|>assistant';
  return out;
}

/**
 * IBM Granite 3.x and 4.0: <|start_of_role|>ROLE<|end_of_role|>TEXT<|end_of_text|> per
 * message. llama.cpp's two names differ only for its pseudo-role
 * assistant_tool_call, which a ChatMessage cannot carry, so one renderer serves both.
 */
function granite(messages: readonly ChatMessage[], gen: boolean): string {
  let out = '';
  for (const m of messages) out += `<|start_of_role|>${m.role}<|end_of_role|>${m.content}<|end_of_text|>\n`;
  if (gen) out += '<|start_of_role|>assistant<|end_of_role|>';
  return out;
}

function commandR(messages: readonly ChatMessage[], gen: boolean): string {
  const tag = { system: 'SYSTEM', user: 'USER', assistant: 'CHATBOT' } as const;
  let out = '';
  // llama.cpp writes no other role (a tool's result is left out)
  for (const m of messages) if (m.role !== 'tool') out += `<|START_OF_TURN_TOKEN|><|${tag[m.role]}_TOKEN|>${trim(m.content)}<|END_OF_TURN_TOKEN|>`;
  if (gen) out += '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>';
  return out;
}

function vicuna(orca: boolean): BuiltinRender {
  return (messages, gen) => {
    let out = '';
    for (const m of messages) {
      if (m.role === 'system') out += orca ? `SYSTEM: ${m.content}\n` : `${m.content}\n\n`;
      else if (m.role === 'user') out += `USER: ${m.content}\n`;
      else if (m.role === 'assistant') out += `ASSISTANT: ${m.content}</s>\n`;
      // llama.cpp writes no other role (a tool's result is left out)
    }
    if (gen) out += 'ASSISTANT:';
    return out;
  };
}

/** llama.cpp's template names (the subset implemented here). */
export const BUILTIN_TEMPLATES: Readonly<Record<string, BuiltinRender>> = {
  chatml,
  llama2: llama2({ system: false, bosInHistory: false, strip: false }),
  'llama2-sys': llama2({ system: true, bosInHistory: false, strip: false }),
  'llama2-sys-bos': llama2({ system: true, bosInHistory: true, strip: false }),
  'llama2-sys-strip': llama2({ system: true, bosInHistory: false, strip: true }),
  'mistral-v1': mistral('v1'),
  'mistral-v3': mistral('v3'),
  'mistral-v3-tekken': mistral('v3-tekken'),
  'mistral-v7': mistralV7(false),
  'mistral-v7-tekken': mistralV7(true),
  phi3,
  phi4,
  zephyr,
  gemma,
  llama3,
  llama4,
  deepseek2,
  deepseek3,
  chatglm4,
  'gpt-oss': gptOss,
  granite,
  'granite-4.0': granite,
  'command-r': commandR,
  vicuna: vicuna(false),
  'vicuna-orca': vicuna(true),
};

/** Names accepted by --chat-template besides the built-ins. */
export const TEMPLATE_ALIASES: Readonly<Record<string, string>> = {
  // llama.cpp detects any template text starting with "mistral" as llama2,
  // which is the [INST] format of Mistral 7B Instruct v0.1/v0.2
  mistral: 'llama2',
  qwen: 'chatml',
  phi: 'phi3',
  deepseek: 'deepseek3',
};

/**
 * Which built-in format a template text (or name) is, by the markers
 * llama.cpp's llm_chat_detect_template looks for; undefined when none match.
 */
export function detectTemplate(tmpl: string): string | undefined {
  if (tmpl in BUILTIN_TEMPLATES) return tmpl;
  if (tmpl in TEMPLATE_ALIASES) return TEMPLATE_ALIASES[tmpl];
  const has = (s: string) => tmpl.includes(s);
  if (has('<|im_start|>')) return has('<|im_sep|>') ? 'phi4' : has('<end_of_utterance>') ? undefined : 'chatml';
  if (tmpl.startsWith('mistral') || has('[INST]')) {
    if (has('[SYSTEM_PROMPT]')) return 'mistral-v7';
    if (has("' [INST] ' + system_message") || has('[AVAILABLE_TOOLS]')) {
      if (has(' [INST]')) return 'mistral-v1';
      if (has('"[INST]"')) return 'mistral-v3-tekken';
      return 'mistral-v3';
    }
    if (has('content.strip()')) return 'llama2-sys-strip';
    if (has("bos_token + '[INST]")) return 'llama2-sys-bos';
    if (has('<<SYS>>')) return 'llama2-sys';
    return 'llama2';
  }
  if (has('<|assistant|>') && has('<|end|>')) return 'phi3';
  if (has('[gMASK]<sop>')) return 'chatglm4';
  // llama.cpp's falcon3 / glmedge formats, not built in here
  if (has('<|assistant|>') && has('<|user|>')) return undefined;
  if (has('<|user|>') && has('<|endoftext|>')) return 'zephyr';
  if (has('<start_of_turn>')) return 'gemma';
  if (has('USER: ') && has('ASSISTANT: ')) return has('SYSTEM: ') ? 'vicuna-orca' : 'vicuna';
  if (has('<|START_OF_TURN_TOKEN|>') && has('<|USER_TOKEN|>')) return 'command-r';
  if (has('<|start_header_id|>') && has('<|end_header_id|>')) return 'llama3';
  if (has("'Assistant: ' + message['content'] + eos_token")) return 'deepseek2';
  if (has('<｜Assistant｜>') && has('<｜User｜>') && has('<｜end▁of▁sentence｜>')) return 'deepseek3';
  // Granite 4.0's template mentions its tool tags; 3.x's does not
  if (has('<|start_of_role|>')) return has('<tool_call>') || has('<tools>') ? 'granite-4.0' : 'granite';
  if (has('<|header_start|>') && has('<|header_end|>')) return 'llama4';
  if (has('<|channel|>') && has('<|start|>')) return 'gpt-oss';
  return undefined;
}
