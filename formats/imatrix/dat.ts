// The legacy imatrix file (imatrix.dat), little-endian throughout:
//   int32 n_entries
//   per entry: int32 name_len, name bytes, int32 ncall, int32 nval, float[nval]
//   int32 last_call            (optional: older files end before it)
//   int32 len, dataset bytes   (optional)
// Each value is the mean squared activation of a column times ncall, the
// number of chunks the entry saw (rounded up), so value / ncall is the mean.
import { IMatrixError } from './errors.js';
import type { IMatrix, LegacyIMatrix } from './types.js';

const utf8 = new TextDecoder('utf-8', { fatal: false });
const f32 = Math.fround;

/** Parses a legacy file's bytes; `file` names it in errors. */
export function parseIMatrixDat(bytes: Uint8Array, file = '<memory>'): LegacyIMatrix {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  const need = (n: number, what: string, entry?: string): void => {
    if (pos + n > bytes.length) {
      throw new IMatrixError({ file, offset: pos, entry, problem: `the file ends inside ${what} (${n} bytes needed, ${bytes.length - pos} left)` });
    }
  };
  const i32 = (what: string, entry?: string): number => {
    need(4, what, entry);
    const v = dv.getInt32(pos, true);
    pos += 4;
    return v;
  };

  const nEntries = i32('the entry count');
  if (nEntries < 1) throw new IMatrixError({ file, offset: 0, problem: `no data: the entry count is ${nEntries}` });
  // the smallest entry is 12 bytes of lengths plus one value
  if (nEntries > (bytes.length - 4) / 16) {
    throw new IMatrixError({ file, offset: 0, problem: `${nEntries} entries cannot fit in a file of ${bytes.length} bytes (is it an imatrix .dat file?)` });
  }
  const entries: LegacyIMatrix['entries'] = [];
  for (let i = 0; i < nEntries; i++) {
    const at = pos;
    const len = i32(`the name length of entry ${i + 1}`);
    if (len < 0 || len > bytes.length - pos) {
      throw new IMatrixError({ file, offset: at, problem: `entry ${i + 1} has a name length of ${len} bytes, more than the file holds` });
    }
    const name = utf8.decode(bytes.subarray(pos, pos + len));
    pos += len;
    const ncall = i32('the call count', name);
    const nvalAt = pos;
    const nval = i32('the value count', name);
    if (nval < 1) throw new IMatrixError({ file, offset: nvalAt, entry: name, problem: `the value count is ${nval}` });
    need(nval * 4, `the ${nval} values`, name);
    const values = new Float32Array(nval);
    for (let j = 0; j < nval; j++) values[j] = dv.getFloat32(pos + 4 * j, true);
    pos += nval * 4;
    entries.push({ name, ncall, values });
  }
  const out: LegacyIMatrix = { entries };
  if (pos + 4 <= bytes.length) out.lastCall = i32('the call count');
  if (pos + 4 <= bytes.length) {
    const at = pos;
    const len = i32('the dataset name length');
    if (len < 0 || pos + len > bytes.length) {
      throw new IMatrixError({ file, offset: at, problem: `the dataset name length ${len} runs past the end of the file` });
    }
    out.dataset = utf8.decode(bytes.subarray(pos, pos + len));
  }
  return out;
}

/** The bytes of a legacy file, entries in the order given. */
export function encodeIMatrixDat(m: LegacyIMatrix): Uint8Array {
  const enc = new TextEncoder();
  const names = m.entries.map((e) => enc.encode(e.name));
  const dataset = m.dataset === undefined ? undefined : enc.encode(m.dataset);
  let size = 4;
  m.entries.forEach((e, i) => { size += 12 + names[i]!.length + 4 * e.values.length; });
  if (m.lastCall !== undefined) size += 4;
  if (dataset) {
    if (m.lastCall === undefined) throw new RangeError('encodeIMatrixDat: a dataset needs lastCall before it');
    size += 4 + dataset.length;
  }
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  let pos = 0;
  const i32 = (v: number) => { dv.setInt32(pos, v, true); pos += 4; };
  i32(m.entries.length);
  m.entries.forEach((e, i) => {
    i32(names[i]!.length);
    out.set(names[i]!, pos);
    pos += names[i]!.length;
    i32(e.ncall);
    i32(e.values.length);
    for (let j = 0; j < e.values.length; j++) dv.setFloat32(pos + 4 * j, e.values[j]!, true);
    pos += 4 * e.values.length;
  });
  if (m.lastCall !== undefined) i32(m.lastCall);
  if (dataset) {
    i32(dataset.length);
    out.set(dataset, pos);
  }
  return out;
}

/**
 * What llama-imatrix --output-format dat writes for collected statistics:
 * entries with no counted tokens are left out, ncall is the largest count
 * divided by the chunk size rounded up, and each value is
 * (sum / count) * ncall in float (a matrix that saw no tokens stores 1s).
 */
export function toLegacyIMatrix(m: IMatrix): LegacyIMatrix {
  const entries: LegacyIMatrix['entries'] = [];
  for (const e of [...m.entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (e.counts.length === 0 || e.counts.every((c) => c === 0)) continue;
    const ncall = Math.floor((Math.max(...e.counts) + (m.chunkSize - 1)) / m.chunkSize);
    const per = e.sums.length / e.counts.length;
    const values = new Float32Array(e.sums.length);
    for (let i = 0; i < values.length; i++) {
      let count = f32(e.counts[Math.floor(i / per)]!);
      let value = e.sums[i]!;
      if (count === 0) {
        value = 1;
        count = 1;
      }
      values[i] = f32(f32(value / count) * ncall);
    }
    entries.push({ name: e.name, ncall, values });
  }
  return { entries, lastCall: m.chunkCount, dataset: m.datasets.at(-1) ?? '' };
}

/**
 * A legacy file read back into collected statistics, as llama-imatrix
 * --in-file does: the file does not store the chunk size, so the caller's
 * (-c) is assumed; sums = value * chunk_size, count = ncall * chunk_size.
 */
export function fromLegacyIMatrix(m: LegacyIMatrix, chunkSize: number): IMatrix {
  let maxCount = 0;
  const entries = m.entries.map((e) => {
    const sums = new Float32Array(e.values.length);
    for (let i = 0; i < sums.length; i++) sums[i] = f32(e.values[i]! * chunkSize);
    const count = e.ncall * chunkSize;
    maxCount = Math.max(maxCount, count);
    return { name: e.name, sums, counts: [count] };
  });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { datasets: m.dataset ? [m.dataset] : [], chunkCount: Math.floor(maxCount / chunkSize), chunkSize, entries };
}
