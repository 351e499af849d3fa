// npm run report:quant on a tiny random Llama and a short text: the table
// (a row per type, and per type again with --imatrix) and a well-formed SVG
// chart with a point per row. The numbers must order as quantization does:
// fewer bits, larger KL divergence; F16 next to nothing.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType } from '../formats/ggml-types.js';
import { writeGGUF } from '../formats/gguf/index.js';
import { encodeIMatrix } from '../formats/imatrix/index.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../formats/synthetic/llama.js';
import { computeIMatrix } from '../runtime/imatrix/index.js';
import { REPO_ROOT } from './helpers/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'run-gguf-report-'));

const TEXT = `A small brown dog lived on a farm with a cow, three hens and a very old horse. Every day the dog ran around the fields and barked at the birds. The farmer laughed and called him the king of the farm. One afternoon the sky turned grey and the wind began to blow. The hens hid in the barn, the cow walked under a tree and the horse stood by the fence. The dog was not afraid. He ran to the house and barked at the door until the farmer came out.`;

/** Tags balance, attributes are quoted, text has no bare < or &: what an XML parser needs of it. */
function assertWellFormedXML(xml: string): void {
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt < 0 ? xml.length : lt);
    assert.not.match(text, /&(?!(amp|lt|gt|quot|apos|#\d+);)/, `bare & in text near ${i}`);
    assert.not.ok(text.includes('>'), `stray > near ${i}`);
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(xml);
    if (!m) assert.unreachable(`malformed tag at ${lt}: ${xml.slice(lt, lt + 60)}`);
    const [, close, name, , selfClose] = m!;
    if (close) assert.is(stack.pop(), name, `</${name}> at ${lt} closes something else`);
    else if (!selfClose) stack.push(name!);
    i = tag.lastIndex;
  }
  assert.equal(stack, [], 'unclosed tags');
}

test('report:quant: a table row per type (and per type with the imatrix) and a KLD-by-bpw SVG chart', async () => {
  const model = join(dir, 'tiny-f32.gguf');
  await writeGGUF(model, llamaModelSpec(LLAMA_SHAPES['test-tiny']!, GGMLType.F32, { seed: 11, logitStd: 6, blockOutScale: 0.35 }));
  const textFile = join(dir, 'text.txt');
  writeFileSync(textFile, `${TEXT}\n`);
  const { imatrix } = await computeIMatrix(model, TEXT, { contextSize: 64, threads: 1, computePPL: false });
  const im = join(dir, 'imatrix.gguf');
  writeFileSync(im, encodeIMatrix(imatrix, 'gguf'));

  const script = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).scripts['report:quant'] as string;
  assert.match(script, /node dist\/bench\/report-quant\.js$/);
  const svg = join(dir, 'chart.svg');
  const types = ['Q2_K', 'Q4_K_M', 'Q8_0', 'F16'];
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'bench', 'report-quant.js'), model, '-f', textFile, '-c', '64', '--chunks', '3', '-t', '1',
    '--imatrix', im, '--types', types.join(','), '--svg', svg], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  console.log(r.stdout.split('\n').filter((l) => l.startsWith('|')).map((l) => `  ${l}`).join('\n'));

  const lines = r.stdout.split('\n').filter((l) => l.startsWith('|'));
  assert.match(lines[0]!, /^\| type +\| size MiB \| +bpw \| +PPL \| +ΔPPL \| +mean KLD \| same top % \|$/);
  assert.match(lines[2]!, /^\| base \(tiny-f32\.gguf\) +\| +5\.50 \| 32\.000 \| /);
  const rows = lines.slice(3).map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
  // Q8_0 and F16 ignore the imatrix in ggml: no second row for them
  assert.equal(rows.map((c) => c[0]), ['Q2_K', 'Q2_K + imatrix', 'Q4_K_M', 'Q4_K_M + imatrix', 'Q8_0', 'F16']);
  const get = (label: string) => {
    const c = rows.find((x) => x[0] === label)!;
    return { bpw: Number(c[2]), kld: Number(c[5]!.split('±')[0]), sameTop: Number(c[6]) };
  };
  const [q2, q4, q8, f16] = ['Q2_K', 'Q4_K_M', 'Q8_0', 'F16'].map(get) as [ReturnType<typeof get>, ReturnType<typeof get>, ReturnType<typeof get>, ReturnType<typeof get>];
  assert.ok(q2.bpw < q4.bpw && q4.bpw < q8.bpw && q8.bpw < f16.bpw, 'bits per weight grow with the type');
  assert.ok(Math.abs(f16.bpw - 16) < 0.1, `F16 at ${f16.bpw} bpw`);
  assert.ok(q2.kld > q4.kld && q4.kld > q8.kld && q8.kld > f16.kld, 'KL divergence shrinks with more bits');
  assert.ok(f16.kld < 1e-4 && f16.sameTop > 99, `F16: KLD ${f16.kld}, same top ${f16.sameTop}%`);
  assert.ok(q2.kld > 10 * q8.kld, 'Q2_K is far from the base');

  assert.ok(existsSync(svg), 'the chart was written');
  const xml = readFileSync(svg, 'utf8');
  assert.match(xml, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="\d+" height="\d+" viewBox="0 0 \d+ \d+"/);
  assertWellFormedXML(xml);
  assert.is(xml.match(/<circle /g)?.length, rows.length, 'a point per row');
  assert.is(xml.match(/<polyline /g)?.length, 2, 'a line with and one without the imatrix');
  for (const t of types) assert.match(xml, new RegExp(`>${t}</text>`), `${t} is labelled`);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
