// A growable little-endian byte buffer for building GGUF headers.
import { GGUFError } from './errors.js';

export class ByteBuilder {
  private buf = new Uint8Array(4096);
  private view = new DataView(this.buf.buffer);
  length = 0;

  constructor(
    /** v1 writes counts, lengths and dims as uint32. */
    readonly wide: boolean,
    /** Names the output in errors. */
    readonly file: string,
  ) {}

  private reserve(n: number): number {
    const at = this.length;
    if (at + n > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < at + n) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.buf.subarray(0, at));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    this.length = at + n;
    return at;
  }

  // reserve() may replace buf and view, so it must run before either is read.
  u8(v: number): void { const at = this.reserve(1); this.buf[at] = v; }
  i8(v: number): void { const at = this.reserve(1); this.view.setInt8(at, v); }
  u16(v: number): void { const at = this.reserve(2); this.view.setUint16(at, v, true); }
  i16(v: number): void { const at = this.reserve(2); this.view.setInt16(at, v, true); }
  u32(v: number): void { const at = this.reserve(4); this.view.setUint32(at, v, true); }
  i32(v: number): void { const at = this.reserve(4); this.view.setInt32(at, v, true); }
  f32(v: number): void { const at = this.reserve(4); this.view.setFloat32(at, v, true); }
  f64(v: number): void { const at = this.reserve(8); this.view.setFloat64(at, v, true); }
  u64(v: bigint | number): void { const at = this.reserve(8); this.view.setBigUint64(at, BigInt(v), true); }
  i64(v: bigint | number): void { const at = this.reserve(8); this.view.setBigInt64(at, BigInt(v), true); }

  bytes(b: Uint8Array): void {
    const at = this.reserve(b.length);
    this.buf.set(b, at);
  }

  /** A count, length or dimension: uint32 in v1, uint64 since v2. */
  size(n: number, what: string, key?: string): void {
    if (this.wide) {
      this.u64(n);
    } else {
      if (n > 0xffffffff) {
        throw new GGUFError({ code: 'write', file: this.file, offset: this.length, key, problem: `${what} ${n} does not fit GGUF v1's uint32`, expected: 'at most 4294967295' });
      }
      this.u32(n);
    }
  }

  /** A length-prefixed string from its bytes. */
  stringBytes(b: Uint8Array, key?: string): void {
    this.size(b.length, 'string length', key);
    this.bytes(b);
  }

  /** Zero bytes up to a multiple of `alignment`. */
  pad(alignment: number): void {
    const r = this.length % alignment;
    // Reserved bytes are zero: the buffer starts zeroed and is only ever appended to.
    if (r !== 0) this.reserve(alignment - r);
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}
