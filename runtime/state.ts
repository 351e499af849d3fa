// A sequence's saved state: its token ids and the KV cells that hold them,
// so a conversation reloaded in another process continues without evaluating
// its prompt again, with the bits it would have had without stopping.
//
// File layout (little-endian):
//   "RGGSTATE"  u32 version  u32 header bytes  header (JSON, UTF-8)
//   i32 token ids [nTokens]
//   cells: for each attention layer, K then V, for each KV head, nTokens rows
//          of head_dim values (K in the context's cacheTypeK, V in its cacheTypeV: the
//          sequence's rows of the context's cache, as they are)
//   recurrent: for each recurrent layer, its f32 states (r, then s when it
//          has one): the sequence's blocks, recurrent_bytes in all (none for
//          a model without recurrent layers)
//   u32 checksum of everything before it
// The header names the model (a fingerprint of its header and samples of its
// weights, taken before repacking so the layout in memory does not matter),
// the context size and the cache's shape and K and V types (and the recurrent layers'
// state size); loading refuses any difference.
import { rowSize } from '../formats/ggml-types.js';
import type { GGUFFile } from '../formats/gguf/index.js';
import type { Kernels } from '../wasm/loader.js';
import { StateError } from './errors.js';
import type { Tensor } from './graph/graph.js';
import { KV_CACHE_TYPES, type KvCacheType } from './graph/ops.js';
import { isMla, type HParams } from './hparams.js';

const MAGIC = 'RGGSTATE';
const VERSION = 1;

/** What a state must have been written for to load here. */
export interface StateIdentity {
  /** The model (see modelFingerprint). */
  fingerprint: string;
  /** For messages: general.name or the file. */
  model: string;
  contextSize: number;
  n_layer: number;
  n_head_kv: number;
  n_embd_head_k: number;
  n_embd_head_v: number;
  /** The K cache's type (ContextOptions.cacheTypeK). */
  cache_type_k: KvCacheType;
  /** The V cache's type (ContextOptions.cacheTypeV); states written before it existed are f16. */
  cache_type_v: KvCacheType;
  /** Layers with a KV cache (n_layer, but for hybrid models: the others are recurrent). */
  kv_layers: number;
  /** Bytes of one sequence's recurrent state (0: no recurrent layers). */
  recurrent_bytes: number;
}

interface StateHeader extends StateIdentity {
  nTokens: number;
}


/** A fast 64-bit hash (two multiplicative streams); not cryptographic, only "is this the same". */
class Hash64 {
  private h1 = 0xdeadbeef;
  private h2 = 0x41c6ce57;

  update(b: Uint8Array): this {
    let h1 = this.h1;
    let h2 = this.h2;
    for (let i = 0; i < b.length; i++) {
      const c = b[i]!;
      h1 = Math.imul(h1 ^ c, 2654435761);
      h2 = Math.imul(h2 ^ c, 1597334677);
    }
    this.h1 = h1;
    this.h2 = h2;
    return this;
  }

  text(s: string): this {
    return this.update(new TextEncoder().encode(s));
  }

  digest(): string {
    let h1 = this.h1;
    let h2 = this.h2;
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    return (h2 >>> 0).toString(16).padStart(8, '0') + (h1 >>> 0).toString(16).padStart(8, '0');
  }
}

/**
 * The model's identity: its metadata and tensor table, and 192 bytes of
 * every tensor (start, middle, end) as loaded, before any repacking. Two
 * fine-tunes of one architecture differ in their weights, so in the samples.
 */
export function modelFingerprint(gguf: GGUFFile, samples: ReadonlyMap<string, readonly Uint8Array[]>): string {
  const h = new Hash64();
  const keys = [...gguf.metadata.keys()].filter((k) => !k.startsWith('split.')).sort();
  for (const k of keys) {
    const v = gguf.metadata.get(k);
    // long arrays (vocabularies) by length and ends: enough to tell files apart, cheap to hash
    const list = Array.isArray(v) ? v : ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : undefined;
    const s = list ? `${list.length}:${String(list.slice(0, 64))}:${String(list.slice(-64))}` : String(v);
    h.text(`${k}=${s}\n`);
  }
  for (const t of gguf.tensors) h.text(`${t.name}:${t.type}:${t.shape.join('x')}\n`);
  for (const [name, parts] of [...samples].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (parts.length === 0) continue;
    h.text(name);
    for (const p of parts) h.update(p);
  }
  return h.digest();
}

/**
 * The bytes of a loaded weight that modelFingerprint hashes (its first, middle
 * and last 64 bytes), taken as the tensor arrives, before any repacking: a
 * saved state names the model, not how its weights sit in memory.
 */
export function fingerprintSample(memory: Kernels, t: Tensor, nBytes: number): Uint8Array[] {
  if (t.ptr === undefined || nBytes <= 0) return [];
  return [0, Math.max(0, (nBytes >> 1) - 32), Math.max(0, nBytes - 64)].map((at) => memory.bytes(t.ptr! + at, Math.min(64, nBytes - at)).slice());
}

/** KV-cache bytes of n cells of one sequence. */
export function cellBytes(id: StateIdentity, n: number): number {
  return id.kv_layers * id.n_head_kv * n * (rowSize(KV_CACHE_TYPES[id.cache_type_k], id.n_embd_head_k) + rowSize(KV_CACHE_TYPES[id.cache_type_v], id.n_embd_head_v));
}

/** The state as bytes (see the file comment). */
export function encodeState(id: StateIdentity, tokens: readonly number[], cells: Uint8Array, recurrent: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (cells.length !== cellBytes(id, tokens.length)) throw new RangeError(`encodeState: ${cells.length} bytes of cells for ${tokens.length} tokens, expected ${cellBytes(id, tokens.length)}`);
  if (recurrent.length !== id.recurrent_bytes) throw new RangeError(`encodeState: ${recurrent.length} bytes of recurrent state, expected ${id.recurrent_bytes}`);
  const header: StateHeader = { ...id, nTokens: tokens.length };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const size = 8 + 4 + 4 + json.length + tokens.length * 4 + cells.length + recurrent.length + 4;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out.set(new TextEncoder().encode(MAGIC), 0);
  dv.setUint32(8, VERSION, true);
  dv.setUint32(12, json.length, true);
  out.set(json, 16);
  let at = 16 + json.length;
  for (const t of tokens) {
    dv.setInt32(at, t, true);
    at += 4;
  }
  out.set(cells, at);
  at += cells.length;
  out.set(recurrent, at);
  at += recurrent.length;
  dv.setUint32(at, checksum(out.subarray(0, at)), true);
  return out;
}

function checksum(b: Uint8Array): number {
  return Number.parseInt(new Hash64().update(b).digest().slice(8), 16) >>> 0;
}

/** Tokens and cells from bytes written by encodeState for `here`; a StateError says what differs. */
export function decodeState(bytes: Uint8Array, here: StateIdentity, file?: string): { tokens: number[]; cells: Uint8Array; recurrent: Uint8Array } {
  const fail = (msg: string) => new StateError(msg, file);
  if (bytes.length < 20 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) throw fail('not a run-gguf state file (no RGGSTATE magic)');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(8, true);
  if (version !== VERSION) throw fail(`state format version ${version}; this run-gguf reads version ${VERSION}`);
  const jsonLen = dv.getUint32(12, true);
  if (16 + jsonLen > bytes.length) throw fail('truncated header');
  let h: StateHeader;
  try {
    h = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + jsonLen))) as StateHeader;
  } catch {
    throw fail('the header is not JSON');
  }
  if (h.fingerprint !== here.fingerprint) {
    throw fail(`saved for another model (${h.model}, fingerprint ${h.fingerprint}); this is ${here.model} (fingerprint ${here.fingerprint})`);
  }
  if (h.contextSize !== here.contextSize) {
    throw fail(`saved with a context size of ${h.contextSize}; this context has ${here.contextSize} (create it with contextSize ${h.contextSize}, -c ${h.contextSize})`);
  }
  // states written before hybrid models had every layer attend and no recurrent state
  h.kv_layers ??= h.n_layer;
  h.recurrent_bytes ??= 0;
  h.cache_type_v ??= 'f16';
  for (const k of ['cache_type_k', 'cache_type_v', 'n_layer', 'n_head_kv', 'n_embd_head_k', 'n_embd_head_v', 'kv_layers', 'recurrent_bytes'] as const) {
    if (h[k] !== here[k]) throw fail(`saved with ${k} = ${h[k]}; here it is ${here[k]}`);
  }
  const n = h.nTokens;
  if (!Number.isInteger(n) || n < 0 || n > here.contextSize) throw fail(`${n} tokens do not fit a context of ${here.contextSize}`);
  const cellsAt = 16 + jsonLen + n * 4;
  const cellsLen = cellBytes(here, n);
  const end = cellsAt + cellsLen + here.recurrent_bytes;
  const expected = end + 4;
  if (bytes.length !== expected) throw fail(`${bytes.length} bytes, expected ${expected} for ${n} tokens (truncated or not written whole)`);
  if (dv.getUint32(end, true) !== checksum(bytes.subarray(0, end))) throw fail('checksum mismatch: the file is corrupted');
  const tokens = Array.from({ length: n }, (_, i) => dv.getInt32(16 + jsonLen + i * 4, true));
  return { tokens, cells: bytes.subarray(cellsAt, cellsAt + cellsLen), recurrent: bytes.subarray(cellsAt + cellsLen, end) };
}

/** Writes the bytes to a temporary file beside `file` and renames it: a crash never leaves half a state. */
export async function writeStateFile(file: string, bytes: Uint8Array): Promise<void> {
  const fsModule = 'node:fs/promises';
  const { writeFile, rename, unlink } = (await import(/* @vite-ignore */ fsModule)) as typeof import('node:fs/promises');
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

export async function readStateFile(file: string): Promise<Uint8Array> {
  const fsModule = 'node:fs/promises';
  const { readFile } = (await import(/* @vite-ignore */ fsModule)) as typeof import('node:fs/promises');
  return new Uint8Array(await readFile(file));
}

/** The identity of a model's contexts of `contextSize` cells. */
export function stateIdentity(fingerprint: string, model: string, hp: HParams, contextSize: number,
  cacheTypes: { k: KvCacheType; v: KvCacheType } = { k: 'f16', v: 'f16' },
  recurrent: { kvLayers: number; bytes: number } = { kvLayers: hp.n_layer, bytes: 0 }): StateIdentity {
  return {
    fingerprint, model, contextSize, n_layer: hp.n_layer, n_head_kv: hp.n_head_kv, n_embd_head_k: hp.n_embd_head_k,
    // MLA (deepseek2) keeps V inside its K rows: no V cells of its own (Context.kvBytes counts the same)
    n_embd_head_v: isMla(hp) ? 0 : hp.n_embd_head_v,
    cache_type_k: cacheTypes.k, cache_type_v: cacheTypes.v, kv_layers: recurrent.kvLayers, recurrent_bytes: recurrent.bytes,
  };
}

/** The identity of a model with LoRA adapters: its own and each adapter's file name and scale, in order. */
export function loraFingerprint(base: string, lora: readonly { path: string; scale?: number }[]): string {
  const h = new Hash64().text(base);
  for (const a of lora) h.text(`\nlora:${a.path.split(/[\\/]/).pop()}:${a.scale ?? 1}`);
  return h.digest();
}
