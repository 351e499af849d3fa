// BPE pre-tokenizers by `tokenizer.ggml.pre` name: how text is cut into words
// before merging, plus the vocabulary flags llama.cpp ties to the same name.
//
// The patterns are the ones llama.cpp uses (llama-vocab.cpp, llm_tokenizer_bpe),
// which are the Hugging Face tokenizer.json patterns with `(?i:...)` spelled out
// as character classes. Several names share one pattern list.
//
// Unknown names: llama.cpp refuses to load the model ("unknown pre-tokenizer
// type"). We load it with the 'default' pre-tokenizer and a warning instead, the
// same thing llama.cpp does when the key is missing altogether; the ids may then
// differ from the model's own tokenizer for some inputs.
import type { SplitStep } from './pre-split.js';

export interface PreTokenizer {
  /** llama.cpp's LLAMA_VOCAB_PRE_TYPE_* name, lower case (e.g. 'llama3'). */
  readonly type: string;
  readonly steps: readonly SplitStep[];
  /** Map bytes to GPT-2's printable alphabet before merging (false: raw UTF-8, <0xXX> byte tokens). */
  readonly byteEncode: boolean;
}

/** Vocabulary flags that llama.cpp sets from the pre-tokenizer name. */
export interface PreTokenizerFlags {
  ignoreMerges?: boolean;
  cleanSpaces?: boolean;
  addBos?: boolean;
  addSep?: boolean;
  escapeWhitespaces?: boolean;
  noBos?: boolean;
}

const GPT2: SplitStep = { kind: 'gpt2' };
const LLAMA3: SplitStep = { kind: 'llama3', maxDigits: 3, marks: false };
const QWEN2: SplitStep = { kind: 'llama3', maxDigits: 1, marks: false };
const QWEN35: SplitStep = { kind: 'llama3', maxDigits: 1, marks: true };
const re = (source: string): SplitStep => ({ kind: 'regex', source });

// Pieces shared by several patterns.
const CONTRACTIONS = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";
const TAIL_LLAMA3 = '\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+';
const CASED_WORDS_LOOKAHEAD =
  '[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+' + CONTRACTIONS + '?' +
  '|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*' + CONTRACTIONS + '?';

// Letters of the Latin, Greek, Cyrillic, Armenian, Georgian, Cherokee, ... blocks
// (DeepSeek LLM's tokenizer.json lists them explicitly). Written as escapes: some
// are canonical singletons (U+212A KELVIN SIGN, U+1FBE, ...) that editors and
// tools silently normalize to other code points, which breaks the ranges.
const DEEPSEEK_LETTERS =
  'A-Za-z\\u{b5}\\u{c0}-\\u{d6}\\u{d8}-\\u{f6}\\u{f8}-\\u{1ba}\\u{1bc}-\\u{1bf}\\u{1c4}-\\u{293}' +
  '\\u{295}-\\u{2af}\\u{370}-\\u{373}\\u{376}\\u{377}\\u{37b}-\\u{37d}\\u{37f}\\u{386}\\u{388}-\\u{38a}' +
  '\\u{38c}\\u{38e}-\\u{3a1}\\u{3a3}-\\u{3f5}\\u{3f7}-\\u{481}\\u{48a}-\\u{52f}\\u{531}-\\u{556}' +
  '\\u{10a0}-\\u{10c5}\\u{13a0}-\\u{13f5}\\u{13f8}-\\u{13fd}\\u{1c90}-\\u{1cba}\\u{1cbd}-\\u{1cbf}' +
  '\\u{1d00}-\\u{1d2b}\\u{1d6b}-\\u{1d77}\\u{1d79}-\\u{1d9a}\\u{1e00}-\\u{1f15}\\u{1f18}-\\u{1f1d}' +
  '\\u{1f20}-\\u{1f45}\\u{1f48}-\\u{1f4d}\\u{1f50}-\\u{1f57}\\u{1f59}\\u{1f5b}\\u{1f5d}\\u{1f5f}-' +
  '\\u{1f7d}\\u{1f80}-\\u{1fb4}\\u{1fb6}-\\u{1fbc}\\u{1fbe}\\u{1fc2}-\\u{1fc4}\\u{1fc6}-\\u{1fcc}' +
  '\\u{1fd0}-\\u{1fd3}\\u{1fd6}-\\u{1fdb}\\u{1fe0}-\\u{1fec}\\u{1ff2}-\\u{1ff4}\\u{1ff6}-\\u{1ffc}' +
  '\\u{2102}\\u{2107}\\u{210a}-\\u{2113}\\u{2115}\\u{2119}-\\u{211d}\\u{2124}\\u{2126}\\u{2128}' +
  '\\u{212a}-\\u{212d}\\u{212f}-\\u{2134}\\u{2139}\\u{213c}-\\u{213f}\\u{2145}-\\u{2149}\\u{214e}' +
  '\\u{2183}\\u{2184}\\u{2c00}-\\u{2c7b}\\u{2c7e}-\\u{2ce4}\\u{2ceb}-\\u{2cee}\\u{2cf2}\\u{2cf3}' +
  '\\u{a640}-\\u{a66d}\\u{a680}-\\u{a69b}\\u{a722}-\\u{a76f}\\u{a771}-\\u{a787}\\u{a78b}-\\u{a78e}' +
  '\\u{ab70}-\\u{abbf}\\u{fb00}-\\u{fb06}\\u{fb13}-\\u{fb17}\\u{ff21}-\\u{ff3a}\\u{ff41}-\\u{ff5a}' +
  '\\u{10400}-\\u{1044f}\\u{104b0}-\\u{104d3}\\u{104d8}-\\u{104fb}\\u{10c80}-\\u{10cb2}\\u{10cc0}-' +
  '\\u{10cf2}\\u{118a0}-\\u{118df}\\u{1e900}-\\u{1e943}';
const CJK_HANGUL = '[一-龥ࠀ-一가-퟿]+';

const PATTERNS: Record<string, { steps: SplitStep[]; byteEncode?: boolean }> = {
  default: {
    steps: [re('[\\p{P}\\$\\+<=>\\^~\\|]+'), GPT2, re('\\p{N}+'), re('[0-9][0-9][0-9]')],
  },
  gpt2: { steps: [GPT2] },
  llama3: { steps: [LLAMA3] },
  jais2: {
    steps: [re(CONTRACTIONS + '|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|' +
      '\\s{512}(?!\\S)|\\s{256}(?!\\S)|\\s{128}(?!\\S)|\\s{64}(?!\\S)|\\s{32}(?!\\S)|\\s{16}(?!\\S)|\\s{8}(?!\\S)|\\s{4}(?!\\S)|\\s{1,2}(?!\\S)|\\s{1}')],
  },
  'deepseek-llm': {
    steps: [re('[\r\n]'), re(`\\s?[${DEEPSEEK_LETTERS}]+`), re('\\s?[!-/:-~！-／：-～‘-‟　-。]+'), re('\\s+$'), re(CJK_HANGUL), re('\\p{N}+')],
  },
  'deepseek3-llm': {
    steps: [re('\\p{N}{1,3}'), re('[一-龥぀-ゟ゠-ヿ]+'),
      re("[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+")],
  },
  youtu: {
    steps: [re('[가-힣ㄱ-ㆎ]+|[！…“”‘’—：；，、-〿︰-﹏]+|[ㄅ-ㄯ]+|[一-龥぀-ゟ゠-ヿ]+'),
      re('[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+' + CONTRACTIONS + '?' +
        '|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*' + CONTRACTIONS + '?' +
        '|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|' + TAIL_LLAMA3)],
  },
  'deepseek-coder': {
    steps: [re('[\r\n]'), re('\\s?\\p{L}+'), re('\\s?\\p{P}+'), re(CJK_HANGUL), re('\\p{N}')],
  },
  falcon: { steps: [re('[\\p{P}\\$\\+<=>\\^~\\|`]+'), GPT2, re('[0-9][0-9][0-9]')] },
  starcoder: { steps: [re('\\p{N}'), GPT2] },
  qwen2: { steps: [QWEN2] },
  qwen35: { steps: [QWEN35] },
  bloom: { steps: [re(' ?[^(\\s|.,!?…。，、।۔،)]+')] },
  viking: { steps: [re(' ?[^(\\s|.,!?…。，、।۔،)]+'), re('\\p{N}')] },
  tekken: {
    steps: [re('[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*' +
      '|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|' + TAIL_LLAMA3)],
  },
  chameleon: {
    steps: [re('<sentinel:[0-9]+>'), re('(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z'), re('([\\t\\n]|    |  )'), re('\\p{N}'),
      re('[\\p{P}!-/:-@\\[-`{-~]'), GPT2],
  },
  gpt4o: {
    steps: [re(CASED_WORDS_LOOKAHEAD + '|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|' + TAIL_LLAMA3)],
  },
  'granite-emb-multi': {
    steps: [re(CASED_WORDS_LOOKAHEAD.replaceAll('(?=[\\p{L}])', '(?=[\\p{L}\\p{M}])') +
      '|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|' + TAIL_LLAMA3)],
  },
  bailingmoe: {
    steps: [re("'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+")],
  },
  'seed-coder': {
    steps: [re(CONTRACTIONS + '|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|' + TAIL_LLAMA3)],
  },
  laguna: { steps: [{ kind: 'newlines' }, QWEN2] },
  'exaone-moe': {
    steps: [re(CONTRACTIONS + '|[^\\r\\n\\p{L}\\p{N}]?(?:\\p{L}\\p{M}*(?: \\p{L}\\p{M}*)*)+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]?|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+')],
  },
  minicpm5: {
    steps: [re('\\p{N}{1,3}'), re(CONTRACTIONS + '|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}+| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|' + TAIL_LLAMA3)],
  },
  'spm-style': { steps: [{ kind: 'newlines' }], byteEncode: false },
};

/** `tokenizer.ggml.pre` name -> [pattern list, flags]. Names not listed are unknown. */
const NAMES: Record<string, [keyof typeof PATTERNS, PreTokenizerFlags]> = {};
function alias(names: string[], pattern: keyof typeof PATTERNS, flags: PreTokenizerFlags = {}): void {
  for (const n of names) NAMES[n] = [pattern, flags];
}
const noClean: PreTokenizerFlags = { cleanSpaces: false };

alias(['default'], 'default');
alias(['minicpm5'], 'minicpm5', { ignoreMerges: true });
alias(['llama3', 'llama-v3', 'llama-bpe', 'falcon3', 'falcon-h1', 'pixtral', 'midm-2.0', 'lfm2', 'jina-v5-nano'], 'llama3',
  { ignoreMerges: true, addBos: true });
alias(['deepseek-llm'], 'deepseek-llm', noClean);
alias(['deepseek-coder'], 'deepseek-coder', noClean);
alias(['deepseek-v3'], 'deepseek3-llm', noClean);
alias(['youtu'], 'youtu', { cleanSpaces: false, ignoreMerges: true });
alias(['falcon'], 'falcon');
alias(['mpt'], 'gpt2');
alias(['starcoder'], 'starcoder');
alias(['gpt-2', 'phi-2', 'jina-es', 'jina-de', 'gigachat', 'jina-v2-es', 'jina-v2-de', 'a.x-4.0', 'mellum', 'modern-bert', 'exaone4'], 'gpt2');
alias(['jais-2'], 'jais2');
alias(['sarvam-moe'], 'spm-style', { escapeWhitespaces: true, cleanSpaces: false });
alias(['jina-v1-en', 'jina-v2-code', 'roberta-bpe'], 'gpt2', { addSep: true });
alias(['refact'], 'starcoder');
alias(['command-r'], 'starcoder', noClean);
alias(['qwen2', 'deepseek-r1-qwen', 'kormo', 'f2llmv2'], 'qwen2', noClean);
alias(['qwen35'], 'qwen35', noClean);
alias(['stablelm2'], 'qwen2');
alias(['olmo'], 'gpt2');
alias(['dbrx', 'smaug-bpe'], 'llama3');
alias(['poro-chat'], 'bloom', noClean);
alias(['glm4', 'chatglm-bpe'], 'llama3', { noBos: true });
alias(['viking'], 'viking', noClean);
alias(['jais'], 'gpt2');
alias(['tekken'], 'tekken', { cleanSpaces: false, ignoreMerges: true, addBos: true });
alias(['smollm'], 'starcoder', noClean);
alias(['codeshell', 'exaone', 'minerva-7b', 'mellum2'], 'starcoder');
alias(['bloom', 'gpt3-finnish'], 'bloom');
alias(['exaone-moe'], 'exaone-moe');
alias(['chameleon'], 'chameleon', { addBos: true, cleanSpaces: false });
alias(['megrez'], 'qwen2');
alias(['gpt-4o', 'llama4', 'kanana2', 'talkie'], 'gpt4o', noClean);
alias(['granite-embed-multi-97m'], 'granite-emb-multi', { cleanSpaces: false, ignoreMerges: true });
alias(['trillion', 'granite-docling'], 'gpt2', noClean);
alias(['bailingmoe', 'bailingmoe2', 'llada-moe'], 'bailingmoe', noClean);
alias(['seed-coder'], 'seed-coder', noClean);
alias(['hunyuan', 'solar-open'], 'qwen2', noClean);
alias(['hunyuan-dense', 'joyai-llm'], 'deepseek3-llm', noClean);
alias(['grok-2'], 'qwen2', noClean);
alias(['laguna'], 'laguna', noClean);
alias(['minimax-m2'], 'gpt4o', noClean);

// Names llama.cpp knows but whose splitting needs matchers we have not written
// (kimi-k2, afmoe, tiny_aya/cohere2moe digit grouping, superbpe's empty-match
// lookahead, the 'whitespace' tokenizer session, Gemma 4's whole-newline words). They load with the default
// pre-tokenizer and a warning, like unknown names.
export const UNSUPPORTED_PRE_NAMES = ['kimi-k2', 'afmoe', 'tiny_aya', 'cohere2moe', 'superbpe', 'whitespace', 'gemma4',
  'granite-embed-multi-311m'];

export interface ResolvedPreTokenizer {
  pre: PreTokenizer;
  flags: PreTokenizerFlags;
  /** Set when the name was missing, unknown or unsupported and 'default' was used instead. */
  warning?: string;
}

/** The pre-tokenizer for a `tokenizer.ggml.pre` value (undefined or '' when the key is absent). */
export function resolvePreTokenizer(name: string | undefined): ResolvedPreTokenizer {
  const make = (pattern: keyof typeof PATTERNS, flags: PreTokenizerFlags, warning?: string): ResolvedPreTokenizer => ({
    pre: { type: pattern, steps: PATTERNS[pattern].steps, byteEncode: PATTERNS[pattern].byteEncode ?? true },
    flags,
    warning,
  });
  if (name === undefined || name === '') {
    return make('default', {}, "tokenizer.ggml.pre is missing: using the 'default' pre-tokenizer (llama.cpp does the same); " +
      'tokenization may differ from the original model, consider reconverting it');
  }
  const known = NAMES[name];
  if (known) return make(known[0], known[1]);
  const why = UNSUPPORTED_PRE_NAMES.includes(name) ? 'is not supported yet' : 'is unknown (llama.cpp refuses such models)';
  return make('default', {}, `pre-tokenizer '${name}' ${why}: using the 'default' pre-tokenizer; tokenization may differ from the original model`);
}

/** Every `tokenizer.ggml.pre` name this module knows. */
export function knownPreTokenizerNames(): string[] {
  return Object.keys(NAMES);
}
