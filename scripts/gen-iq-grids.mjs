// Generates the lattice tables of the grid-based i-quants (IQ2_XXS, IQ2_XS,
// IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M) from ggml's own definition of them:
//   formats/quant/iq-grids.ts   the scalar references' copy
//   kernels/iq-grids.h          the kernels' copy
// The values are data fixed by the file format (a block stores indices into
// these grids), so they are read from ggml-common.h rather than typed.
//
// Usage: node scripts/gen-iq-grids.mjs [path/to/ggml-common.h]
// Without a path, ggml-common.h is taken from the llama.cpp source that
// node-llama-cpp ships as a git bundle (the version the oracle tests run).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function ggmlCommonHeader() {
  if (process.argv[2]) return readFileSync(process.argv[2], 'utf8');
  const bundle = join(root, 'node_modules', 'node-llama-cpp', 'llama', 'gitRelease.bundle');
  const dir = mkdtempSync(join(tmpdir(), 'iq-grids-'));
  try {
    execFileSync('git', ['clone', '--quiet', '--no-checkout', bundle, dir], { stdio: 'ignore' });
    return execFileSync('git', ['-C', dir, 'show', 'HEAD:ggml/src/ggml-common.h'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const header = ggmlCommonHeader();

/** The integers of ggml table `name`, and its declared element type. */
function table(name) {
  const m = new RegExp(`GGML_TABLE_BEGIN\\((\\w+), ${name}, (\\w+)\\)([\\s\\S]*?)GGML_TABLE_END`).exec(header);
  if (!m) throw new Error(`ggml-common.h has no table ${name}`);
  const body = m[3].replace(/\/\/.*$/gm, '');
  const values = [...body.matchAll(/0x[0-9a-fA-F]+|\b\d+\b/g)].map((v) => BigInt(v[0]));
  return { ctype: m[1], values };
}

// name in ggml, bytes per entry, signed bytes (iq1s), entries
const GRIDS = [
  { name: 'iq2xxs_grid', ts: 'IQ2XXS_GRID', width: 8, entries: 256 },
  { name: 'iq2xs_grid', ts: 'IQ2XS_GRID', width: 8, entries: 512 },
  { name: 'iq2s_grid', ts: 'IQ2S_GRID', width: 8, entries: 1024 },
  { name: 'iq3xxs_grid', ts: 'IQ3XXS_GRID', width: 4, entries: 256 },
  { name: 'iq3s_grid', ts: 'IQ3S_GRID', width: 4, entries: 512 },
  { name: 'iq1s_grid', ts: 'IQ1S_GRID', width: 8, entries: 2048, signed: true },
];

const DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz';

const tsParts = [];
const cParts = [];
for (const g of GRIDS) {
  const { ctype, values } = table(g.name);
  if (values.length !== g.entries) throw new Error(`${g.name}: ${values.length} entries, expected ${g.entries}`);
  if (ctype !== (g.width === 8 ? 'uint64_t' : 'uint32_t')) throw new Error(`${g.name}: element type ${ctype}`);
  // entry i, byte j (little-endian) is element j of grid point i
  const bytes = [];
  for (const v of values) for (let j = 0; j < g.width; j++) bytes.push(Number((v >> BigInt(8 * j)) & 0xffn));
  const asValue = (b) => (g.signed && b > 127 ? b - 256 : b);
  const levels = [...new Set(bytes.map(asValue))].sort((a, b) => a - b);
  const digits = bytes.map((b) => DIGITS[levels.indexOf(asValue(b))]).join('');
  const lines = [];
  for (let i = 0; i < digits.length; i += 128) lines.push(`  '${digits.slice(i, i + 128)}'`);
  tsParts.push(
    `/** ${g.name}: ${g.entries} points of ${g.width} ${g.signed ? 'signed ' : ''}values, point i at [${g.width}i, ${g.width}i + ${g.width}). */\n` +
      `export const ${g.ts} = expand(${g.signed ? 'Int8Array' : 'Uint8Array'}, [${levels.join(', ')}], ${g.width * g.entries}, [\n${lines.join(',\n')},\n]);\n`,
  );
  const hex = values.map((v) => `0x${v.toString(16).padStart(2 * g.width, '0')}`);
  const rows = [];
  const per = g.width === 8 ? 6 : 10;
  for (let i = 0; i < hex.length; i += per) rows.push(`  ${hex.slice(i, i + per).join(', ')},`);
  cParts.push(`static const ${ctype} ${g.name}[${g.entries}] = {\n${rows.join('\n')}\n};\n`);
}

// The sign tables are a rule, not data: a 7-bit index gives the signs of the
// first 7 of 8 values and the 8th makes the count of minus signs even. The
// generated copies are checked against ggml's.
const ksigns = Array.from({ length: 128 }, (_, i) => {
  let parity = 0;
  for (let b = 0; b < 7; b++) parity ^= (i >> b) & 1;
  return i | (parity << 7);
});
const theirs = table('ksigns_iq2xs').values.map(Number);
if (theirs.join() !== ksigns.join()) throw new Error('ksigns_iq2xs differs from the parity rule');
if (table('kmask_iq2xs').values.map(Number).join() !== [1, 2, 4, 8, 16, 32, 64, 128].join()) throw new Error('kmask_iq2xs');
const delta = /#define IQ1S_DELTA\s+([0-9.]+)f/.exec(header)?.[1];
const deltaM = /#define IQ1M_DELTA\s+([0-9.]+)f/.exec(header)?.[1];
if (delta !== '0.125' || deltaM !== '0.125') throw new Error(`IQ1S_DELTA ${delta}, IQ1M_DELTA ${deltaM}`);

const masks = ksigns.map((s) => {
  let m = 0n;
  for (let j = 0; j < 8; j++) if (s & (1 << j)) m |= 0xffn << BigInt(8 * j);
  return `0x${m.toString(16).padStart(16, '0')}`;
});
const maskRows = [];
for (let i = 0; i < 128; i += 4) maskRows.push(`  ${masks.slice(i, i + 4).join(', ')},`);

const note = `// GENERATED by scripts/gen-iq-grids.mjs from ggml-common.h; do not edit.
// The values are ggml's grids for the i-quant formats, as the format defines
// them (a block stores indices into these tables).
`;

writeFileSync(
  join(root, 'formats', 'quant', 'iq-grids.ts'),
  `${note}
// Each grid is stored as one character per value, an index into the grid's
// few distinct levels, and expanded once at load.
function expand<A extends Uint8ArrayConstructor | Int8ArrayConstructor>(
  Ctor: A, levels: readonly number[], length: number, chunks: readonly string[],
): InstanceType<A> {
  const s = chunks.join('');
  if (s.length !== length) throw new Error('iq-grids: corrupt table');
  const out = new Ctor(length) as InstanceType<A>;
  for (let i = 0; i < length; i++) out[i] = levels[parseInt(s[i]!, 36)]!;
  return out;
}

${tsParts.join('\n')}`,
);

writeFileSync(
  join(root, 'kernels', 'iq-grids.h'),
  `${note}#pragma once
#include <stdint.h>

${cParts.join('\n')}
// ksigns_iq2xs: a 7-bit sign index -> 8 sign bits (the 8th keeps the count of
// minus signs even).
static const uint8_t ksigns_iq2xs[128] = {
${Array.from({ length: 8 }, (_, r) => `  ${ksigns.slice(16 * r, 16 * r + 16).join(', ')},`).join('\n')}
};

// The same signs as byte masks: byte j is 0xff where value j is negated.
static const uint64_t iq_sign_masks[128] = {
${maskRows.join('\n')}
};
`,
);
console.log('wrote formats/quant/iq-grids.ts and kernels/iq-grids.h');
