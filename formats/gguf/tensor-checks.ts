// Where tensor data may lie: inside the file, at a multiple of the
// alignment, and not on top of another tensor's data.
import { GGUFError } from './errors.js';
import type { GGUFTensorInfo } from './header.js';

export interface DataLayout {
  file: string;
  alignment: number;
  dataOffset: number;
  fileSize: number;
}

/**
 * Throws GGUFError for the first tensor whose data is misaligned, outside the
 * file or overlapping another's. `offsetFieldAt[i]` is where tensor i's offset
 * is stored, which is what the error points at.
 */
export function checkTensorData(tensors: readonly Pick<GGUFTensorInfo, 'name' | 'offset' | 'nBytes'>[], offsetFieldAt: readonly number[], layout: DataLayout): void {
  const { file, alignment, dataOffset, fileSize } = layout;
  const fail = (i: number, code: 'misaligned' | 'data-bounds' | 'overlap', problem: string, expected: string): never => {
    throw new GGUFError({ code, file, offset: offsetFieldAt[i], key: tensors[i].name, keyIsTensor: true, expected, problem });
  };
  for (let i = 0; i < tensors.length; i++) {
    const t = tensors[i];
    if (t.offset % alignment !== 0) {
      fail(i, 'misaligned', `data offset ${t.offset} is not a multiple of the alignment ${alignment}`, `a multiple of ${alignment}`);
    }
    const end = dataOffset + t.offset + t.nBytes;
    if (end > fileSize) {
      fail(i, 'data-bounds', `data [${dataOffset + t.offset}, ${end}) lies outside the file (${fileSize} bytes)`, `data ending by byte ${fileSize}`);
    }
  }
  const order = tensors.map((_, i) => i).sort((a, b) => tensors[a].offset - tensors[b].offset);
  let reach = 0; // furthest data end seen so far, in offset order
  let reachName = '';
  for (const i of order) {
    const t = tensors[i];
    // Zero-byte tensors take no room and cannot overlap anything.
    if (t.nBytes === 0) continue;
    if (t.offset < reach) {
      fail(i, 'overlap', `data at offset ${t.offset} overlaps tensor "${reachName}", whose data runs to offset ${reach}`, `offset >= ${reach}`);
    }
    reach = t.offset + t.nBytes;
    reachName = t.name;
  }
}
