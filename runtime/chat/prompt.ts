// A rendered conversation to token ids, with llama.cpp's BOS/EOS rule:
// templates often write bos_token themselves, and the tokenizer adds BOS
// again when the model's metadata asks. llama.cpp (common_chat_templates_apply)
// removes a leading bos_token text (and a trailing eos_token text) when the
// vocabulary adds them, then tokenizes with add_special and parse_special, so
// the prompt starts with exactly one BOS either way.
import type { Tokenizer } from '../tokenizer/index.js';
import { templateTokens, type ChatTemplate, type RenderOptions } from './template.js';
import type { ChatMessage } from './types.js';

/** The prompt text as it is tokenized (BOS/EOS text the tokenizer adds itself removed). */
export function chatPromptText(tok: Tokenizer, template: ChatTemplate, messages: readonly ChatMessage[], options: RenderOptions = {}): string {
  let text = template.render(messages, options);
  if (template.kind === 'completion') return text;
  const { bosToken, eosToken } = templateTokens(tok);
  if (tok.addBos && bosToken && text.startsWith(bosToken)) text = text.slice(bosToken.length);
  if (tok.addEos && eosToken && text.endsWith(eosToken)) text = text.slice(0, text.length - eosToken.length);
  return text;
}

export function tokenizeChat(tok: Tokenizer, template: ChatTemplate, messages: readonly ChatMessage[], options: RenderOptions = {}): number[] {
  const text = chatPromptText(tok, template, messages, options);
  return tok.tokenize(text, { addSpecial: true, special: template.parseSpecial });
}
