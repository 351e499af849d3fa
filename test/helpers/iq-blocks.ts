// Random blocks of the grid i-quants for tests: every bit pattern is a valid
// block of these formats except the f16 super-block scale, which is kept
// finite here (an inf/nan scale gives garbage in ggml too).
import { GGMLType, ggmlTypeInfo } from '../../formats/ggml-types.js';
import { mulberry32 } from './rng.js';

const T = GGMLType;
export const IQ_GRID_TYPES = [T.IQ2_XXS, T.IQ2_XS, T.IQ2_S, T.IQ3_XXS, T.IQ3_S, T.IQ1_S, T.IQ1_M] as const;

/** nb random blocks of `type` with finite scales; `scaleBits` (an f16) overrides every block's scale. */
export function randomIqBlocks(type: GGMLType, nb: number, seed: number, scaleBits?: number): Uint8Array {
  const rand = mulberry32(seed);
  const size = ggmlTypeInfo(type)!.typeSize;
  const b = new Uint8Array(nb * size);
  for (let i = 0; i < b.length; i++) b[i] = (rand() * 256) | 0;
  for (let i = 0; i < nb; i++) {
    // iq1_m keeps its f16 in the top nibbles of its four scale u16s; bit 14 of the f16 is bit 14 of the last
    if (type === T.IQ1_M) b[i * size + 55]! &= 0xbf;
    else b[i * size + 1]! &= 0xbb; // exponent < 31
    if (scaleBits !== undefined) setIqScale(type, b, i, scaleBits);
  }
  return b;
}

/** Sets block `blk`'s f16 super-block scale to the bits `h`. */
export function setIqScale(type: GGMLType, b: Uint8Array, blk: number, h: number): void {
  const size = ggmlTypeInfo(type)!.typeSize;
  if (type === T.IQ1_M) {
    const o = blk * size + 48;
    for (let k = 0; k < 4; k++) {
      const v = ((b[o + 2 * k]! | (b[o + 2 * k + 1]! << 8)) & 0x0fff) | (((h >> (4 * k)) & 0xf) << 12);
      b[o + 2 * k] = v & 0xff;
      b[o + 2 * k + 1] = v >> 8;
    }
  } else {
    b[blk * size] = h & 0xff;
    b[blk * size + 1] = h >> 8;
  }
}
