// The vocabulary as llama.cpp's llama_vocab::impl::load builds it from GGUF
// metadata: token texts, scores and attributes, merges, special token ids and
// the tokenizer flags, including the defaults and the by-name fix-ups llama.cpp
// applies (they change which tokens count as special, so they change ids).
import { TokenizerError } from './errors.js';
import { resolvePreTokenizer, type PreTokenizer } from './pre-tokenizers.js';
import { checkSteps } from './pre-split.js';

/** Per-token attributes (llama.h's llama_token_attr); a token may have several. */
export enum TokenAttr {
  Undefined = 0,
  Unknown = 1 << 0,
  Unused = 1 << 1,
  Normal = 1 << 2,
  Control = 1 << 3,
  UserDefined = 1 << 4,
  Byte = 1 << 5,
  Normalized = 1 << 6,
  LStrip = 1 << 7,
  RStrip = 1 << 8,
  SingleWord = 1 << 9,
}

/** Token types as GGUF stores them in tokenizer.ggml.token_type (llama.h's llama_token_type). */
export enum TokenType {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
}

/** spm: tokenizer.ggml.model "llama"; bpe: "gpt2"; wpm: "bert"; ugm: "t5" (unigram). */
export type VocabType = 'spm' | 'bpe' | 'wpm' | 'ugm';

/** A metadata lookup: a Map or plain object of GGUF key -> value, or a function. */
export type MetadataSource = Map<string, unknown> | Record<string, unknown> | ((key: string) => unknown);

export interface VocabOptions {
  /** Receives load-time warnings (llama.cpp's LLAMA_LOG_WARN). Default: console.warn. */
  warn?: (message: string) => void;
}

const NULL_ID = -1;

function lookup(meta: MetadataSource): (key: string) => unknown {
  if (typeof meta === 'function') return meta;
  if (meta instanceof Map) return (k) => meta.get(k);
  return (k) => meta[k];
}

const typeToAttr: Record<number, number> = {
  [TokenType.Unknown]: TokenAttr.Unknown,
  [TokenType.Unused]: TokenAttr.Unused,
  [TokenType.Normal]: TokenAttr.Normal,
  [TokenType.Control]: TokenAttr.Control,
  [TokenType.UserDefined]: TokenAttr.UserDefined,
  [TokenType.Byte]: TokenAttr.Byte,
};

// Texts llama.cpp recognises as end-of-turn, end-of-message and FIM tokens when
// the metadata does not name them (it then also forces them to be control tokens).
const EOT_TEXTS = ['<|eot_id|>', '<|im_end|>', '<|end|>', '<end_of_turn>', '<|endoftext|>', '<|end_of_text|>', '<EOT>',
  '_<EOT>', '[EOT]', '<｜end▁of▁sentence｜>', '<end_of_utterance>'];
const EOM_TEXTS = ['<|eom_id|>'];
const FIM_PRE_TEXTS = ['<|fim_prefix|>', '<fim-prefix>', '<fim_prefix>', '<｜fim▁begin｜>', '<PRE>', '▁<PRE>', '<|code_prefix|>', '<|prefix|>'];
const FIM_SUF_TEXTS = ['<|fim_suffix|>', '<fim-suffix>', '<fim_suffix>', '<｜fim▁hole｜>', '<SUF>', '▁<SUF>', '<|code_suffix|>', '<|suffix|>'];
const FIM_MID_TEXTS = ['<|fim_middle|>', '<fim-middle>', '<fim_middle>', '<｜fim▁end｜>', '<MID>', '▁<MID>', '<|code_middle|>', '<|middle|>'];
const FIM_PAD_TEXTS = ['<|fim_pad|>', '<fim-pad>', '<fim_pad>', '<PAD>', '[PAD]'];
const FIM_REP_TEXTS = ['<|fim_repo|>', '<|repo_name|>', '<fim-repo>', '<REPO>', '<reponame>'];
const FIM_SEP_TEXTS = ['<|file_sep|>'];
// Texts that end generation.
const EOG_TEXTS = ['<|eot_id|>', '<|im_end|>', '<|end|>', '<|return|>', '<|call|>', '<|flush|>', '<|calls|>', '<end_of_turn>',
  '<|endoftext|>', '</s>', '<|eom_id|>', '<EOT>', '_<EOT>', '[EOT]', '[EOS]', '<|end_of_text|>', '<end_of_utterance>', '<eos>',
  '<turn|>', '<|tool_response>', '<｜end▁of▁sentence｜>', '[e~['];

export interface SpecialIds {
  bos: number; eos: number; eot: number; eom: number; unk: number; sep: number; pad: number; mask: number;
  fimPre: number; fimSuf: number; fimMid: number; fimPad: number; fimRep: number; fimSep: number;
}

export class Vocab {
  readonly type: VocabType;
  /** tokenizer.ggml.model as stored. */
  readonly model: string;
  /** tokenizer.ggml.pre as stored ('' when absent). */
  readonly preName: string;
  /** The BPE pre-tokenizer (BPE vocabularies only). */
  readonly pre: PreTokenizer | null = null;

  readonly tokens: string[];
  readonly scores: Float32Array;
  readonly attrs: Uint16Array;
  /** Attributes from the token types alone, before the by-text fix-ups (what llama.cpp's UGM trie is built from). */
  readonly typeAttrs: Uint16Array;
  readonly tokenToId = new Map<string, number>();
  /** Longest token text, in UTF-16 code units. */
  readonly maxTokenLength: number;
  /** "left right" -> merge rank (BPE). */
  readonly bpeRanks = new Map<string, number>();

  readonly special: SpecialIds;
  readonly eogIds = new Set<number>();
  /** Control, user-defined and unknown tokens, longest text first: the ones matched in raw text. */
  readonly specialTokens: number[];

  addSpacePrefix = false;
  addBos = false;
  addEos = false;
  addSep = false;
  ignoreMerges = false;
  cleanSpaces = false;
  escapeWhitespaces = true;
  /** UGM: merge runs of spaces and drop trailing ones (tokenizer.ggml.remove_extra_whitespaces). */
  removeExtraWhitespaces = false;
  /** UGM: the dummy space goes after the text instead (never set from GGUF, as in llama.cpp). */
  readonly treatWhitespaceAsSuffix = false;
  /** UGM: tokenizer.ggml.precompiled_charsmap, or null. */
  readonly precompiledCharsmap: Uint8Array | null = null;
  readonly normalizer = { lowercase: true, stripAccents: true };

  private constructor(get: (key: string) => unknown, warn: (m: string) => void) {
    const str = (key: string): string | undefined => {
      const v = get(key);
      if (v === undefined || v === null) return undefined;
      if (typeof v !== 'string') throw new TokenizerError(`metadata ${key} must be a string`, { key, value: v });
      return v;
    };
    const bool = (key: string): boolean | undefined => {
      const v = get(key);
      if (v === undefined || v === null) return undefined;
      if (typeof v === 'boolean') return v;
      if (typeof v === 'number' || typeof v === 'bigint') return v !== 0 && v !== 0n;
      throw new TokenizerError(`metadata ${key} must be a boolean`, { key, value: v });
    };
    const int = (key: string): number | undefined => {
      const v = get(key);
      if (v === undefined || v === null) return undefined;
      if (typeof v === 'number' && Number.isInteger(v)) return v;
      if (typeof v === 'bigint') return Number(v);
      throw new TokenizerError(`metadata ${key} must be an integer`, { key, value: v });
    };

    const model = str('tokenizer.ggml.model');
    if (model === undefined) throw new TokenizerError('metadata has no tokenizer.ggml.model');
    this.model = model;
    this.preName = str('tokenizer.ggml.pre') ?? '';

    // Defaults by model type, as llama.cpp sets them before reading any override.
    const sp: SpecialIds = {
      bos: NULL_ID, eos: NULL_ID, eot: NULL_ID, eom: NULL_ID, unk: NULL_ID, sep: NULL_ID, pad: NULL_ID, mask: NULL_ID,
      fimPre: NULL_ID, fimSuf: NULL_ID, fimMid: NULL_ID, fimPad: NULL_ID, fimRep: NULL_ID, fimSep: NULL_ID,
    };
    if (model === 'llama') {
      this.type = 'spm';
      Object.assign(sp, { bos: 1, eos: 2, unk: 0 });
      this.addSpacePrefix = true;
      this.addBos = true;
    } else if (model === 'bert') {
      this.type = 'wpm';
      Object.assign(sp, { bos: 101, unk: 100, sep: 102, pad: 0, mask: 103 });
      this.addBos = true;
      this.addSep = true;
      this.cleanSpaces = true;
    } else if (model === 'gpt2') {
      this.type = 'bpe';
      Object.assign(sp, { bos: 11, eos: 11 });
      this.escapeWhitespaces = false;
      this.cleanSpaces = true;
      const resolved = resolvePreTokenizer(this.preName || undefined);
      if (resolved.warning) warn(resolved.warning);
      this.pre = resolved.pre;
      checkSteps(resolved.pre.steps);
      const f = resolved.flags;
      if (f.ignoreMerges) this.ignoreMerges = true;
      if (f.cleanSpaces === false) this.cleanSpaces = false;
      if (f.addBos) this.addBos = true;
      if (f.addSep) this.addSep = true;
      if (f.escapeWhitespaces) this.escapeWhitespaces = true;
      if (f.noBos) sp.bos = NULL_ID;
    } else if (model === 't5') {
      this.type = 'ugm';
      Object.assign(sp, { eos: 1, unk: 2, pad: 0 });
      this.addEos = true;
      const cm = get('tokenizer.ggml.precompiled_charsmap');
      if (cm !== undefined && cm !== null) {
        if (!(cm instanceof Uint8Array || cm instanceof Int8Array)) {
          throw new TokenizerError('metadata tokenizer.ggml.precompiled_charsmap must be an array of uint8 or int8', { key: 'tokenizer.ggml.precompiled_charsmap' });
        }
        this.precompiledCharsmap = new Uint8Array(cm.buffer, cm.byteOffset, cm.byteLength);
      }
    } else {
      throw new TokenizerError(`tokenizer model '${model}' is not supported (supported: llama, gpt2, bert, t5)`, { model });
    }
    this.addSpacePrefix = bool('tokenizer.ggml.add_space_prefix') ?? this.addSpacePrefix;
    this.removeExtraWhitespaces = bool('tokenizer.ggml.remove_extra_whitespaces') ?? false;

    // Tokens, scores and types.
    const tokens = get('tokenizer.ggml.tokens');
    if (!Array.isArray(tokens)) throw new TokenizerError('metadata has no tokenizer.ggml.tokens string array');
    const n = tokens.length;
    const scores = get('tokenizer.ggml.scores') as ArrayLike<number> | undefined;
    if (scores && scores.length < n) {
      throw new TokenizerError(`tokenizer.ggml.scores has ${scores.length} entries for ${n} tokens`);
    }
    const types = get('tokenizer.ggml.token_type') as ArrayLike<number> | undefined;
    if (types && types.length < n) {
      throw new TokenizerError(`tokenizer.ggml.token_type has ${types.length} entries for ${n} tokens`);
    }
    this.tokens = new Array(n);
    this.scores = new Float32Array(n);
    this.attrs = new Uint16Array(n);
    let maxLen = 0;
    for (let i = 0; i < n; i++) {
      let text = tokens[i];
      if (typeof text !== 'string') throw new TokenizerError(`token ${i} is not a string`, { id: i });
      if (text === '') {
        warn(`empty token at index ${i}`);
        text = `[EMPTY_${i}]`;
      }
      const dup = this.tokenToId.get(text);
      if (dup !== undefined) {
        // llama.cpp aborts on this. It can also happen here when token bytes
        // that are not UTF-8 were decoded to U+FFFD; we keep loading, the later
        // id wins text lookups (as llama.cpp's map assignment would).
        warn(`token text ${JSON.stringify(text)} appears twice (ids ${dup} and ${i}); text lookups find ${i}`);
      }
      this.tokenToId.set(text, i);
      this.tokens[i] = text;
      if (text.length > maxLen) maxLen = text.length;
      if (scores) this.scores[i] = Number(scores[i]);
      this.attrs[i] = types ? typeToAttr[Number(types[i])] ?? TokenAttr.Undefined : TokenAttr.Normal;
    }
    this.maxTokenLength = maxLen;

    if (this.type === 'bpe') {
      const merges = get('tokenizer.ggml.merges');
      if (!Array.isArray(merges)) throw new TokenizerError('BPE vocabulary has no tokenizer.ggml.merges string array');
      for (let i = 0; i < merges.length; i++) {
        const m = String(merges[i]);
        const sp1 = m.indexOf(' ', 1);
        // A merge with no separator becomes the pair ("", ""), as in llama.cpp.
        const key = sp1 < 0 ? ' ' : m.slice(0, sp1) + ' ' + m.slice(sp1 + 1);
        if (!this.bpeRanks.has(key)) this.bpeRanks.set(key, i);
      }
    }

    // Special ids: defaults out of range are dropped, overrides out of range ignored.
    const idKeys: Array<[keyof SpecialIds, string]> = [
      ['bos', 'bos_token_id'], ['eos', 'eos_token_id'], ['eot', 'eot_token_id'], ['eom', 'eom_token_id'],
      ['unk', 'unknown_token_id'], ['sep', 'seperator_token_id'], ['pad', 'padding_token_id'], ['mask', 'mask_token_id'],
      ['fimPre', 'fim_pre_token_id'], ['fimSuf', 'fim_suf_token_id'], ['fimMid', 'fim_mid_token_id'],
      ['fimPad', 'fim_pad_token_id'], ['fimRep', 'fim_rep_token_id'], ['fimSep', 'fim_sep_token_id'],
      ['fimPre', 'prefix_token_id'], ['fimSuf', 'suffix_token_id'], ['fimMid', 'middle_token_id'], // deprecated names
    ];
    for (const [field, suffix] of idKeys) {
      const key = `tokenizer.ggml.${suffix}`;
      if (sp[field] >= n) {
        warn(`default special token '${key}' = ${sp[field]} out of vocab range, disabling`);
        sp[field] = NULL_ID;
      }
      const v = int(key);
      if (v === undefined) continue;
      const u = v >>> 0; // llama.cpp reads these as uint32
      if (u >= n) warn(`bad special token: '${key}' = ${u}, using default id ${sp[field]}`);
      else sp[field] = u;
    }
    this.special = sp;

    this.addBos = bool('tokenizer.ggml.add_bos_token') ?? this.addBos;
    this.addEos = bool('tokenizer.ggml.add_eos_token') ?? this.addEos;
    this.addSep = bool('tokenizer.ggml.add_sep_token') ?? this.addSep;

    this.normalizer.lowercase = bool('tokenizer.ggml.normalizer.lowercase') ?? true;
    this.normalizer.stripAccents = bool('tokenizer.ggml.normalizer.strip_accents') ?? this.normalizer.lowercase;

    this.typeAttrs = this.attrs.slice();
    this.detectSpecialTokens(warn);
    this.specialTokens = this.collectSpecialTokens();
    this.applyModelQuirks(str('general.name') ?? '', str('general.architecture') ?? '', warn);
  }

  /** Builds a vocabulary from GGUF metadata (tokenizer.ggml.* keys, general.name, general.architecture). */
  static fromMetadata(meta: MetadataSource, options: VocabOptions = {}): Vocab {
    return new Vocab(lookup(meta), options.warn ?? ((m) => console.warn(`tokenizer: ${m}`)));
  }

  get size(): number {
    return this.tokens.length;
  }

  /** EOT/EOM/FIM ids found by text, end-of-generation set, "unused" control tokens. */
  private detectSpecialTokens(warn: (m: string) => void): void {
    const sp = this.special;
    const forceControl = (id: number) => {
      if (!(this.attrs[id] & TokenAttr.Control)) {
        warn(`control-looking token ${id} '${this.tokens[id]}' was not control-type; its type will be overridden`);
        this.attrs[id] |= TokenAttr.Control;
      }
    };
    // llama.cpp walks its hash map, so when a vocabulary has several candidate
    // texts, which one wins depends on hash order. We take the first text in the
    // list order above (the specific end-of-turn markers before <|endoftext|>),
    // which agrees with llama.cpp on the vocabularies we test (dbrx: <|im_end|>).
    const find = (field: keyof SpecialIds, texts: string[]) => {
      if (sp[field] !== NULL_ID) return;
      for (const t of texts) {
        const id = this.tokenToId.get(t);
        if (id === undefined) continue;
        sp[field] = id;
        forceControl(id);
        return;
      }
    };
    find('eot', EOT_TEXTS);
    find('eom', EOM_TEXTS);
    find('fimPre', FIM_PRE_TEXTS);
    find('fimSuf', FIM_SUF_TEXTS);
    find('fimMid', FIM_MID_TEXTS);
    find('fimPad', FIM_PAD_TEXTS);
    find('fimRep', FIM_REP_TEXTS);
    find('fimSep', FIM_SEP_TEXTS);

    // Control tokens named "unused..." are unused.
    for (let id = 0; id < this.tokens.length; id++) {
      if (this.attrs[id] & TokenAttr.Control && this.tokens[id].includes('unused')) this.attrs[id] |= TokenAttr.Unused;
    }

    const eog = this.eogIds;
    for (const id of [sp.fimPad, sp.fimRep, sp.fimSep]) if (id !== NULL_ID) eog.add(id);
    for (const t of EOG_TEXTS) {
      const id = this.tokenToId.get(t);
      if (id === undefined) continue;
      eog.add(id);
      forceControl(id);
    }

    // gpt-oss: these are always rendered.
    for (const t of ['<|channel|>', '<|message|>', '<|start|>', '<|constrain|>']) {
      const id = this.tokenToId.get(t);
      if (id !== undefined) this.attrs[id] = TokenAttr.UserDefined;
    }

    for (const [name, id] of [['eos', sp.eos], ['eot', sp.eot], ['eom', sp.eom]] as const) {
      if (id !== NULL_ID && !eog.has(id)) {
        eog.add(id);
        warn(`special_${name}_id is not in the end-of-generation set - the tokenizer config may be incorrect`);
      }
    }

    // o200k_harmony and solar-open: <|end|> is not end-of-generation when
    // <|return|>/<|call|> (or <|calls|>/<|flush|>) exist.
    const eogText = (t: string) => { const id = this.tokenToId.get(t); return id !== undefined && eog.has(id); };
    const endId = this.tokenToId.get('<|end|>');
    if (endId !== undefined && eog.has(endId) &&
        ((eogText('<|return|>') && (eogText('<|call|>') || eogText('<|calls|>'))) ||
         ((eogText('<|call|>') || eogText('<|calls|>')) && eogText('<|flush|>')))) {
      eog.delete(endId);
      this.attrs[endId] = TokenAttr.UserDefined;
    }
    // gemma4 and paddleocr: </s> is not end-of-generation when <|tool_response> is.
    const sId = this.tokenToId.get('</s>');
    if (sId !== undefined && eog.has(sId) && eogText('<|tool_response>')) {
      eog.delete(sId);
      this.attrs[sId] = TokenAttr.Normal;
    }
  }

  private collectSpecialTokens(): number[] {
    const ids: number[] = [];
    const mask = TokenAttr.Control | TokenAttr.UserDefined | TokenAttr.Unknown;
    for (let id = 0; id < this.tokens.length; id++) if (this.attrs[id] & mask) ids.push(id);
    // Longest first. llama.cpp's sort is not stable; equal-length tokens can only
    // compete for overlapping matches, which no known vocabulary has. We keep id order.
    return ids.sort((a, b) => this.tokens[b].length - this.tokens[a].length || a - b);
  }

  /** Per-token lstrip/rstrip that llama.cpp sets by model name (they are not in GGUF). */
  private applyModelQuirks(generalName: string, arch: string, warn: (m: string) => void): void {
    const name = generalName.toLowerCase();
    const pre = this.preName;
    const set = (text: string, attr: number, on: boolean) => {
      const id = this.tokenToId.get(text);
      if (id === undefined) return false;
      this.attrs[id] = on ? this.attrs[id] | attr : this.attrs[id] & ~attr;
      return true;
    };
    if (['jina-v2-de', 'jina-v2-es', 'jina-v2-code'].some((s) => pre.includes(s)) ||
        ['nomic-bert-moe', 'jina-bert-v3'].some((s) => arch.includes(s))) {
      if (!set('<mask>', TokenAttr.LStrip, true)) warn('mask token is missing in vocab, please reconvert model!');
    } else if (name.includes('phi-3') || name.includes('phi3')) {
      for (const id of this.specialTokens) this.attrs[id] |= TokenAttr.RStrip;
      set('</s>', TokenAttr.RStrip, true);
      for (const t of ['<unk>', '<s>', '<|endoftext|>']) set(t, TokenAttr.RStrip, false);
    } else if (name.includes('modern-bert')) {
      if (!set('[MASK]', TokenAttr.LStrip, true)) warn('mask token missing in vocab!');
    }
  }

  /** The merge rank of (left, right), or -1. */
  bpeRank(left: string, right: string): number {
    return this.bpeRanks.get(left + ' ' + right) ?? -1;
  }

  /** llama.cpp's byte_to_token for SPM vocabularies: <0xNN>, else the byte as a one-character token. */
  byteToToken(byte: number): number {
    const hex = byte.toString(16).toUpperCase().padStart(2, '0');
    let id = this.tokenToId.get(`<0x${hex}>`);
    if (id === undefined && byte < 0x80) id = this.tokenToId.get(String.fromCharCode(byte));
    if (id === undefined) {
      throw new TokenizerError(`vocabulary has no token for byte 0x${hex} (neither <0x${hex}> nor the raw byte)`, { byte });
    }
    return id;
  }
}

export { NULL_ID };
