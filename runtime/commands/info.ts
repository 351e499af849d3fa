// run-gguf info <model.gguf> [--json]: what is in a GGUF file, from its
// header alone: version, metadata, tensors, parameter count, size, bits per
// weight, the file type as llama.cpp names it, and the architecture (whether
// run-gguf runs it) with its hyper-parameters as llama.cpp prints them.
import { parseArgs } from 'node:util';
import {
  fileTypeOf, ggmlTypeName, ggufTypeName, ggufTypeShortName, readGGUF, GGUFValueType,
  type GGUFArray, type GGUFFile, type GGUFKV, type GGUFTypedValue, type GGUFValue,
} from '../../formats/index.js';
import { architectureInfo, architectureJSON, architectureText } from './info-hparams.js';
import { modelArgument } from './pull.js';

export const infoUsage = `Usage: run-gguf info <model.gguf> [--json]

Shows a GGUF file's version, metadata, tensors, parameter count, size, bits
per weight, file type, architecture (and whether run-gguf runs it) and its
hyper-parameters under llama.cpp's names. Reads only the header (of every shard, for a split
model given by any of its shards).

Options:
      --json   print one JSON object instead of text
  -h, --help   this text`;

/** Arrays longer than this are summarised ([string x 32000]). */
const MAX_ARRAY_SHOWN = 16;
const MAX_STRING_SHOWN = 80;

export async function runInfo(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(infoUsage);
    return 0;
  }
  if (positionals.length !== 1) {
    console.error(infoUsage);
    return 2;
  }
  const file = await readGGUF(await modelArgument(positionals[0]!));
  for (const w of file.warnings) console.error(`warning: ${w}`);
  process.stdout.write(values.json ? `${JSON.stringify(infoJSON(file), null, 2)}\n` : infoText(file));
  return 0;
}

export interface ModelTotals {
  nParams: number;
  /** Bytes of tensor data. */
  nBytes: number;
  /** nBytes * 8 / nParams (NaN without tensors). */
  bitsPerWeight: number;
  /** All shards' file sizes. */
  fileBytes: number;
}

export function modelTotals(file: GGUFFile): ModelTotals {
  let nParams = 0;
  let nBytes = 0;
  for (const t of file.tensors) {
    nParams += t.nElements;
    nBytes += t.nBytes;
  }
  const fileBytes = file.shards.reduce((s, h) => s + h.fileSize, 0);
  return { nParams, nBytes, bitsPerWeight: nParams > 0 ? (nBytes * 8) / nParams : NaN, fileBytes };
}

// ---- JSON ----

/** The `--json` object. */
export function infoJSON(file: GGUFFile): Record<string, unknown> {
  const totals = modelTotals(file);
  const ft = fileTypeOf(file);
  // no prototype: a key named __proto__ is one more entry, not a prototype change
  const metadata = Object.create(null) as Record<string, unknown>;
  const typed = lastEntries(file.kv);
  for (const [key, value] of file.metadata) metadata[key] = jsonValue(value, typed.get(key));
  return {
    file: file.file,
    version: file.version,
    alignment: file.alignment,
    data_offset: file.dataOffset,
    shards: file.shards.map((h) => h.file),
    file_size: totals.fileBytes,
    kv_count: file.kv.length,
    tensor_count: file.tensors.length,
    n_params: totals.nParams,
    n_bytes: totals.nBytes,
    bits_per_weight: Number.isFinite(totals.bitsPerWeight) ? round(totals.bitsPerWeight, 4) : null,
    file_type: ft.name,
    file_type_id: ft.id,
    file_type_guessed: ft.guessed,
    architecture: architectureJSON(architectureInfo(file.metadata)),
    metadata,
    tensors: file.tensors.map((t) => ({
      name: t.name,
      type: ggmlTypeName(t.type),
      shape: t.shape,
      offset: t.absoluteOffset,
      bytes: t.nBytes,
      ...(file.shards.length > 1 ? { file: t.file } : {}),
    })),
    warnings: file.warnings,
  };
}

/** The last entry for each key (the one the metadata view shows), in one pass: files may hold 100,000s of keys. */
function lastEntries(kv: readonly GGUFKV[]): Map<string, GGUFTypedValue> {
  const m = new Map<string, GGUFTypedValue>();
  for (const e of kv) m.set(e.key, e);
  return m;
}

function jsonScalar(v: GGUFValue, type: GGUFValueType | undefined): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) && BigInt(Number(v)) === v ? Number(v) : v.toString();
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v); // JSON has no NaN/Infinity
  if (typeof v === 'number' && type === GGUFValueType.FLOAT32) return shortestFloat32(v);
  return v;
}

function jsonValue(v: GGUFValue, tv: GGUFTypedValue | undefined, type = tv?.type): unknown {
  if (!isArray(v)) return jsonScalar(v, type);
  const et = tv?.elementType;
  if (v.length > MAX_ARRAY_SHOWN) return { type: et !== undefined ? ggufTypeName(et) : 'unknown', length: v.length };
  return Array.from(v as ArrayLike<GGUFValue>, (el, i) => jsonValue(el, tv?.items?.[i], et));
}

/** The shortest decimal that reads back as the same float32 (1e-5, not 0.000009999999747378752). */
export function shortestFloat32(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  for (let p = 1; p <= 9; p++) {
    const y = Number(x.toPrecision(p));
    if (Math.fround(y) === x) return y;
  }
  return x;
}

function isArray(v: GGUFValue): v is GGUFArray {
  return Array.isArray(v) || ArrayBuffer.isView(v);
}

// ---- text ----

export function infoText(file: GGUFFile): string {
  const totals = modelTotals(file);
  const ft = fileTypeOf(file);
  const out: string[] = [];
  const field = (name: string, value: string) => out.push(`${`${name}:`.padEnd(14)}${value}`);
  field('file', file.file);
  field('format', `GGUF v${file.version}, alignment ${file.alignment}, data at byte ${file.dataOffset}` +
    (file.shards.length > 1 ? `, ${file.shards.length} shards` : ''));
  field('file type', ft.name);
  field('parameters', `${humanCount(totals.nParams)} (${totals.nParams})`);
  field('size', `${humanBytes(totals.nBytes)} of tensor data (${totals.nBytes} bytes); file ${humanBytes(totals.fileBytes)}`);
  field('bits/weight', Number.isFinite(totals.bitsPerWeight) ? totals.bitsPerWeight.toFixed(2) : '-');
  out.push(...architectureText(architectureInfo(file.metadata)));

  out.push('', `metadata (${file.kv.length} entries):`);
  const keyWidth = Math.min(48, file.kv.reduce((w, e) => Math.max(w, e.key.length), 0));
  for (const e of file.kv) {
    out.push(`  ${printable(e.key).padEnd(keyWidth)}  ${typeLabel(e).padEnd(10)}  ${textValue(e.value, e)}`);
  }

  out.push('', `tensors (${file.tensors.length}):`);
  const rows = file.tensors.map((t, i) => [
    String(i), printable(t.name), ggmlTypeName(t.type), `[${t.shape.join(', ')}]`, String(t.nBytes), String(t.absoluteOffset),
    ...(file.shards.length > 1 ? [String(t.shard + 1)] : []),
  ]);
  const header = ['#', 'name', 'type', 'shape', 'bytes', 'offset', ...(file.shards.length > 1 ? ['shard'] : [])];
  out.push(...table([header, ...rows], [true, false, false, false, true, true, true]).map((l) => `  ${l}`));
  return `${out.join('\n')}\n`;
}

function typeLabel(tv: GGUFTypedValue): string {
  return tv.type === GGUFValueType.ARRAY ? `arr[${ggufTypeShortName(tv.elementType!)}]` : ggufTypeShortName(tv.type);
}

function textValue(v: GGUFValue, tv: GGUFTypedValue | undefined, type = tv?.type): string {
  if (typeof v === 'string') return quote(v);
  if (typeof v === 'number' && type === GGUFValueType.FLOAT32) return String(shortestFloat32(v));
  if (!isArray(v)) return String(v);
  const et = tv?.elementType;
  if (v.length > MAX_ARRAY_SHOWN) return `[${et !== undefined ? ggufTypeName(et) : '?'} x ${v.length}]`;
  return `[${Array.from(v as ArrayLike<GGUFValue>, (el, i) => textValue(el, tv?.items?.[i], et)).join(', ')}]`;
}

function quote(s: string): string {
  const shown = s.length > MAX_STRING_SHOWN ? `${s.slice(0, MAX_STRING_SHOWN)}...` : s;
  const q = JSON.stringify(shown);
  return s.length > MAX_STRING_SHOWN ? `${q} (${s.length} chars)` : q;
}

/** Names from a file may hold control characters: keep each entry on one line. */
function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /[\x00-\x1f\x7f]/.test(s) ? JSON.stringify(s).slice(1, -1) : s;
}

function table(rows: string[][], rightAlign: boolean[]): string[] {
  const widths = rows[0].map((_, c) => rows.reduce((w, r) => Math.max(w, r[c].length), 0));
  return rows.map((r) => r.map((cell, c) => (rightAlign[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd());
}

function humanCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(2)} K`;
  return String(n);
}

function humanBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(2)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(2)} KiB`;
  return `${n} B`;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
