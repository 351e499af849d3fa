// The lattice search tables ggml's grid i-quant quantizers use, built from
// the grids the formats define (formats/quant/iq-grids.ts), as ggml's
// iq2xs_init_impl / iq3xs_init_impl build them:
// - a grid point is stored as its level indices l (one per coordinate), and
//   searched at the odd positions 2l + 1 (the quantizer works on |x| / scale
//   in units where levels are 1, 3, 5, ...);
// - `map` takes the packed level indices of a candidate point (2 bits per
//   coordinate for the 8-value grids, 3 bits for the 4-value ones) to the
//   index of the grid point with exactly those levels, or -1;
// - a candidate off the grid is replaced by the best of its neighbours: every
//   grid point whose squared distance (in positions) is among the `nwant`
//   smallest distinct distances, in order of (distance, index).
// ggml computes every off-grid candidate's neighbours up front; here they are
// computed when first asked for and kept, which gives the same lists.

import { IQ1S_GRID, IQ2S_GRID, IQ2XS_GRID, IQ2XXS_GRID, IQ3S_GRID, IQ3XXS_GRID } from './iq-grids.js';

export interface GridSearch {
  /** Values per grid point: 8 (2-bit levels) or 4 (3-bit levels). */
  readonly dim: number;
  readonly bits: number;
  readonly size: number;
  /** pos[dim * j + i]: 2l + 1 for coordinate i of grid point j. */
  readonly pos: Int8Array;
  /** lev[dim * j + i]: the level index l of coordinate i of grid point j. */
  readonly lev: Uint8Array;
  /** Distinct levels (3 or 8). */
  readonly nLevels: number;
  /** Packed level indices -> grid index, or -1 off the grid. */
  readonly map: Int32Array;
  /** Grid indices near an off-grid candidate `u` (not on the grid), best first by (distance, index). */
  neighbours(u: number): Uint16Array;
}

function build(values: Uint8Array | Int8Array, levels: readonly number[], dim: number, bits: number, nwant: number): GridSearch {
  const size = values.length / dim;
  const pos = new Int8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const l = levels.indexOf(values[i]!);
    if (l < 0) throw new Error('iq-grid-search: a grid value is not one of its levels');
    pos[i] = 2 * l + 1;
  }
  // ggml's map spans every packed index up to the largest grid point's
  const mapSize = bits === 2 ? 43692 : 4096;
  const map = new Int32Array(mapSize).fill(-1);
  for (let j = 0; j < size; j++) {
    let u = 0;
    for (let i = 0; i < dim; i++) u |= ((pos[dim * j + i]! - 1) >> 1) << (bits * i);
    map[u] = j;
  }
  const cache: (Uint16Array | undefined)[] = new Array(mapSize);
  // squared distances split by halves of the coordinates: half[h][p * size + j] is the distance
  // of grid point j's coordinates in half h to the candidate levels p packed in that half
  const halfDim = dim / 2, halfBits = bits * halfDim, nPatterns = 1 << halfBits;
  const mask = (1 << bits) - 1;
  const half = [0, 1].map((h) => {
    const t = new Uint16Array(nPatterns * size);
    for (let pat = 0; pat < nPatterns; pat++) {
      for (let j = 0; j < size; j++) {
        let d2 = 0;
        for (let i = 0; i < halfDim; i++) {
          const e = pos[dim * j + h * halfDim + i]! - (2 * ((pat >> (bits * i)) & mask) + 1);
          d2 += e * e;
        }
        t[pat * size + j] = d2;
      }
    }
    return t;
  });
  const dist = new Int32Array(size);
  const neighbours = (u: number): Uint16Array => {
    const hit = cache[u];
    if (hit) return hit;
    if (u < 0 || u >= mapSize || map[u]! >= 0) throw new RangeError(`iq-grid-search: ${u} is not an off-grid point`);
    const lo = half[0]!, hi = half[1]!;
    const oLo = (u & (nPatterns - 1)) * size, oHi = (u >> halfBits) * size;
    // the nwant smallest distinct distances (ascending in best[])
    const best = [Infinity, Infinity, Infinity].slice(0, nwant);
    for (let j = 0; j < size; j++) {
      const d2 = lo[oLo + j]! + hi[oHi + j]!;
      dist[j] = d2;
      if (d2 >= best[nwant - 1]!) continue;
      let r = 0;
      while (best[r]! < d2) r++;
      if (best[r] === d2) continue;
      for (let q = nwant - 1; q > r; q--) best[q] = best[q - 1]!;
      best[r] = d2;
    }
    // every point within them, by (distance, index)
    const byRank: number[][] = best.map(() => []);
    for (let j = 0; j < size; j++) {
      const r = best.indexOf(dist[j]!);
      if (r >= 0) byRank[r]!.push(j);
    }
    const list = Uint16Array.from(byRank.flat());
    cache[u] = list;
    return list;
  };
  const lev = Uint8Array.from(pos, (p) => (p - 1) >> 1);
  return { dim, bits, size, pos, lev, nLevels: levels.length, map, neighbours };
}

const lazily = (make: () => GridSearch): (() => GridSearch) => {
  let g: GridSearch | undefined;
  return () => (g ??= make());
};

const LEVELS_IQ2 = [8, 25, 43];
export const iq2xxsSearch = lazily(() => build(IQ2XXS_GRID, LEVELS_IQ2, 8, 2, 2));
export const iq2xsSearch = lazily(() => build(IQ2XS_GRID, LEVELS_IQ2, 8, 2, 2));
export const iq2sSearch = lazily(() => build(IQ2S_GRID, LEVELS_IQ2, 8, 2, 1));
export const iq1sSearch = lazily(() => build(IQ1S_GRID, [-1, 0, 1], 8, 2, 3));
export const iq3xxsSearch = lazily(() => build(IQ3XXS_GRID, [4, 12, 20, 28, 36, 44, 52, 62], 4, 3, 2));
export const iq3sSearch = lazily(() => build(IQ3S_GRID, [1, 3, 5, 7, 9, 11, 13, 15], 4, 3, 3));
