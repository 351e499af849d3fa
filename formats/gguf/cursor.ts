// A bounds-checked little-endian reader over the first bytes of a GGUF file.
//
// It knows the whole file's size even when it holds only a prefix, so it can
// tell "the file is truncated / this length is absurd" (GGUFError) apart from
// "read more of the file and parse again" (GGUFIncompleteError). Every length
// is checked against the bytes left in the file before anything is allocated.
import { GGUFError, GGUFIncompleteError, type GGUFErrorCode } from './errors.js';
import { decodeString, type DecodedString } from './strings.js';

/** Filled in by the parser for callers that check its memory use (the mutation test). */
export interface ParseStats {
  /** Largest single allocation (typed array or string bytes), in bytes. */
  largestAllocation: number;
}

export class Cursor {
  pos = 0;
  /** v1 stores counts, lengths and dims as uint32; v2 and v3 as uint64. */
  wide = true;
  /** Metadata key or tensor name being read, for error messages. */
  subject: string | undefined;
  subjectIsTensor = false;
  private readonly view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    /** Size of the whole file (>= bytes.length). */
    readonly fileSize: number,
    readonly file: string,
    private readonly stats?: ParseStats,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.fileSize - this.pos;
  }

  fail(code: GGUFErrorCode, problem: string, offset = this.pos, expected?: string): never {
    throw new GGUFError({
      code, file: this.file, offset, key: this.subject, keyIsTensor: this.subjectIsTensor, expected, problem,
    });
  }

  /** Makes sure `n` more bytes are in hand; `what` names the field for the truncation message. */
  need(n: number, what: string): void {
    const end = this.pos + n;
    if (end > this.fileSize) {
      this.fail('truncated', `the file ends at byte ${this.fileSize}, in the middle of the ${what} (${n} bytes)`, this.pos, `${n} bytes`);
    }
    if (end > this.bytes.length) throw new GGUFIncompleteError(this.file, this.pos, end, this.bytes.length);
  }

  allocate(n: number): void {
    if (this.stats && n > this.stats.largestAllocation) this.stats.largestAllocation = n;
  }

  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.pos++];
  }

  i8(what: string): number {
    this.need(1, what);
    return this.view.getInt8(this.pos++);
  }

  u16(what: string): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  i16(what: string): number {
    this.need(2, what);
    const v = this.view.getInt16(this.pos, true);
    this.pos += 2;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  i32(what: string): number {
    this.need(4, what);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }

  f32(what: string): number {
    this.need(4, what);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  f64(what: string): number {
    this.need(8, what);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  u64(what: string): bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  i64(what: string): bigint {
    this.need(8, what);
    const v = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A uint64 that must fit a JS number exactly (offsets, counts). */
  safeU64(what: string): number {
    const at = this.pos;
    const v = this.u64(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      this.fail('too-large', `${what} ${v} is beyond 2^53 (Number.MAX_SAFE_INTEGER), larger than any real file`, at, `at most ${Number.MAX_SAFE_INTEGER}`);
    }
    return Number(v);
  }

  /** A count or length: uint32 in v1, uint64 since v2. */
  size(what: string): number {
    return this.wide ? this.safeU64(what) : this.u32(what);
  }

  /** Bytes a count/length field takes in this version. */
  get sizeBytes(): number {
    return this.wide ? 8 : 4;
  }

  /**
   * Checks that `count` items of at least `minBytes` each fit in what is left
   * of the file; `at` is where the count was stored.
   */
  checkFits(count: number, minBytes: number, what: string, at: number, code: GGUFErrorCode = 'length'): void {
    if (count * minBytes > this.remaining) {
      const each = minBytes === 1 ? '' : ` (at least ${minBytes} bytes each)`;
      this.fail(code, `${what} ${count}${each} exceeds the ${this.remaining} bytes left in the file`, at,
        `at most ${Math.floor(this.remaining / minBytes)}`);
    }
  }

  /** A length-prefixed string. */
  string(what: string): DecodedString {
    const at = this.pos;
    const n = this.size(`${what} length`);
    this.checkFits(n, 1, `${what} length`, at);
    this.need(n, what);
    this.allocate(n);
    const s = decodeString(this.bytes.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }

  /** A copy of the next `n` bytes in their own (aligned) buffer; n already checked against the file. */
  copy(n: number, what: string): Uint8Array {
    this.need(n, what);
    this.allocate(n);
    const out = new Uint8Array(n);
    out.set(this.bytes.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }
}
