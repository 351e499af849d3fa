// The public tokenizer: text <-> ids with llama.cpp's exact results for the
// same GGUF file (llama_tokenize / llama_detokenize).
import { tokenizeBpe } from './bpe.js';
import { detokenizeBytes, PieceTable, StreamDecoder, type DetokenizeOptions } from './detokenize.js';
import { TokenizerError } from './errors.js';
import { partitionSpecial } from './special.js';
import { tokenizeSpm } from './spm.js';
import { NULL_ID, TokenAttr, Vocab, type MetadataSource, type VocabOptions, type VocabType } from './vocab.js';
import { UgmTokenizer } from './ugm.js';
import { tokenizeWpm } from './wpm.js';

export interface TokenizeOptions {
  /**
   * Add the model's BOS/EOS (or BERT's [CLS]/[SEP]) as its metadata asks
   * (llama.cpp's add_special). Default true.
   */
  addSpecial?: boolean;
  /**
   * Recognise control tokens written in the text, e.g. "<|im_start|>" in a
   * rendered chat template (llama.cpp's parse_special). Default false: user
   * text never turns into control tokens. User-defined tokens are matched
   * either way, as llama.cpp does.
   */
  special?: boolean;
}

export interface StreamDecoderHandle {
  /** Text made final by this token (may be '' while a character or a space is held back). */
  push(id: number): string;
  /** The rest of the text; call once at the end of the stream. */
  flush(): string;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const decoder = new TextDecoder('utf-8', { fatal: false });

export class Tokenizer {
  private readonly pieces: PieceTable;
  private nl: number | undefined;
  private ugm: UgmTokenizer | undefined;

  private constructor(readonly vocab: Vocab) {
    this.pieces = new PieceTable(vocab);
  }

  /** Builds the tokenizer from GGUF metadata (a Map/object of key -> value, or a lookup function). */
  static fromMetadata(meta: MetadataSource, options: VocabOptions = {}): Tokenizer {
    return new Tokenizer(Vocab.fromMetadata(meta, options));
  }

  get type(): VocabType {
    return this.vocab.type;
  }
  get vocabSize(): number {
    return this.vocab.size;
  }
  get bosId(): number | undefined {
    return optional(this.vocab.special.bos);
  }
  get eosId(): number | undefined {
    return optional(this.vocab.special.eos);
  }
  get eotId(): number | undefined {
    return optional(this.vocab.special.eot);
  }
  get eomId(): number | undefined {
    return optional(this.vocab.special.eom);
  }
  get sepId(): number | undefined {
    return optional(this.vocab.special.sep);
  }
  get padId(): number | undefined {
    return optional(this.vocab.special.pad);
  }
  get unkId(): number | undefined {
    return optional(this.vocab.special.unk);
  }
  /** The newline token, found as llama.cpp finds it (byte token for SPM, tokenize("\n") otherwise). */
  get nlId(): number | undefined {
    if (this.nl === undefined) {
      const v = this.vocab;
      let id = NULL_ID;
      if (v.type === 'spm') {
        try {
          id = v.byteToToken(0x0a);
        } catch {
          id = v.special.pad;
        }
      } else if (v.type === 'wpm') {
        id = v.special.pad;
      } else {
        id = this.tokenize('\n', { addSpecial: false })[0] ?? v.special.pad;
      }
      this.nl = id;
    }
    return optional(this.nl);
  }
  get addBos(): boolean {
    return this.vocab.addBos;
  }
  get addEos(): boolean {
    return this.vocab.addEos;
  }

  /** True for tokens that end generation (EOS, EOT, <|im_end|>, ...). */
  isEog(id: number): boolean {
    return this.vocab.eogIds.has(id);
  }

  /** The token's text as stored in the vocabulary (▁ and byte-level characters included). */
  tokenText(id: number): string {
    this.checkId(id);
    return this.vocab.tokens[id];
  }

  /** The token's attributes (TokenAttr bits). */
  tokenAttr(id: number): number {
    this.checkId(id);
    return this.vocab.attrs[id];
  }

  tokenize(text: string, options: TokenizeOptions = {}): number[] {
    const addSpecial = options.addSpecial ?? true;
    const v = this.vocab;
    // node-llama-cpp hands llama.cpp UTF-8, where a lone surrogate has become U+FFFD.
    const input = text.replace(LONE_SURROGATE, '\ufffd');
    const fragments = partitionSpecial(v, input, options.special ?? false);
    const out: number[] = [];

    const pushSpecial = (id: number, what: string) => {
      if (id === NULL_ID) throw new TokenizerError(`the vocabulary asks for ${what} but has none`, { model: v.model });
      out.push(id);
    };

    switch (v.type) {
      case 'spm': {
        if (addSpecial && v.addBos) pushSpecial(v.special.bos, 'a BOS token');
        let afterSpecial = true; // the text at the start, or after a special token, gets the leading space
        for (const f of fragments) {
          if (typeof f === 'number') {
            out.push(f);
            afterSpecial = true;
            continue;
          }
          const withPrefix = v.addSpacePrefix && afterSpecial ? ' ' + f : f;
          tokenizeSpm(v, withPrefix.replaceAll(' ', '\u2581'), out);
          afterSpecial = false;
        }
        if (addSpecial && v.addEos) pushSpecial(v.special.eos, 'an EOS token');
        break;
      }
      case 'bpe': {
        if (addSpecial && v.addBos) pushSpecial(v.special.bos, 'a BOS token');
        for (const f of fragments) {
          if (typeof f === 'number') out.push(f);
          else tokenizeBpe(v, v.escapeWhitespaces ? f.replaceAll(' ', '\u2581') : f, out);
        }
        if (addSpecial && v.addEos) pushSpecial(v.special.eos, 'an EOS token');
        break;
      }
      case 'wpm': {
        // BERT always gets [CLS] ... [SEP] with addSpecial, whatever add_bos says (as in llama.cpp).
        if (addSpecial) pushSpecial(v.special.bos, 'a [CLS] token');
        for (const f of fragments) {
          if (typeof f === 'number') out.push(f);
          else tokenizeWpm(v, f, out);
        }
        if (addSpecial) pushSpecial(v.special.sep, 'a [SEP] token');
        break;
      }
      case 'ugm': {
        // Built on first use: the tries of a 250k-token vocabulary take a moment.
        const ugm = (this.ugm ??= new UgmTokenizer(v));
        if (addSpecial && v.addBos) pushSpecial(v.special.bos, 'a BOS token');
        for (const f of fragments) {
          if (typeof f === 'number') out.push(f);
          else ugm.tokenize(f, out);
        }
        if (addSpecial && v.addEos) pushSpecial(v.special.eos, 'an EOS token');
        break;
      }
    }
    return out;
  }

  /** Text of the ids (llama_detokenize with remove_special = false unless asked). */
  detokenize(ids: ArrayLike<number>, options: DetokenizeOptions = {}): string {
    return decoder.decode(this.detokenizeBytes(ids, options));
  }

  /** The bytes detokenize() decodes, for callers that handle partial UTF-8 themselves. */
  detokenizeBytes(ids: ArrayLike<number>, options: DetokenizeOptions = {}): Uint8Array {
    return detokenizeBytes(this.vocab, this.pieces, ids, options);
  }

  /**
   * One token's piece as bytes (llama_token_to_piece). `special` (default
   * true) renders control tokens; `lstrip` drops up to that many leading spaces.
   */
  tokenToPieceBytes(id: number, options: { special?: boolean; lstrip?: number } = {}): Uint8Array {
    return this.pieces.piece(id, options.special ?? true, options.lstrip ?? 0).slice(); // a copy: the table is shared
  }

  /** One token's piece as text; a piece holding part of a character shows U+FFFD. */
  tokenToPiece(id: number, options: { special?: boolean; lstrip?: number } = {}): string {
    return decoder.decode(this.pieces.piece(id, options.special ?? true, options.lstrip ?? 0));
  }

  /** A decoder for generated tokens; see StreamDecoder for what it holds back and why. */
  createStreamDecoder(options: { special?: boolean } = {}): StreamDecoderHandle {
    return new StreamDecoder(this.vocab, this.pieces, options.special ?? false);
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocab.size) {
      throw new TokenizerError(`token id ${id} is out of range (vocabulary has ${this.vocab.size} tokens)`, { id });
    }
  }
}

function optional(id: number): number | undefined {
  return id === NULL_ID ? undefined : id;
}

