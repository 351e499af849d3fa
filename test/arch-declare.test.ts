// Each architecture declares the tensors its files hold (runtime/arch/
// declare.ts), and loading checks a file against that before reading any
// tensor data. Here: for every synthetic model family (and each layout
// variant), the tensors the built graph reads are exactly the file's
// tensors, so a tensor declared but never used, or used but not written,
// shows; the tiny real files load; and files with an extra tensor, a
// missing one or a wrong shape are refused with the tensor's name.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType } from '../formats/ggml-types.js';
import { writeGGUF, type GGUFWriteSpec } from '../formats/gguf/index.js';
import { BERT_SHAPES, bertModelSpec } from '../formats/synthetic/bert.js';
import { DEEPSEEK2_SHAPES, deepseek2ModelSpec } from '../formats/synthetic/deepseek2.js';
import { ERNIE_SHAPES, ernieModelSpec } from '../formats/synthetic/ernie.js';
import { GEMMA_SHAPES, gemmaModelSpec } from '../formats/synthetic/gemma.js';
import { GLM4MOE_SHAPES, glm4moeModelSpec } from '../formats/synthetic/glm4moe.js';
import { GPT_OSS_SHAPES, gptOssModelSpec } from '../formats/synthetic/gpt-oss.js';
import { GRANITE_SHAPES, graniteModelSpec } from '../formats/synthetic/granite.js';
import { GRANITE_HYBRID_SHAPES, graniteHybridModelSpec } from '../formats/synthetic/granitehybrid.js';
import { LAYERNORM_SHAPES, layerNormModelSpec } from '../formats/synthetic/layernorm.js';
import { LFM2_SHAPES, lfm2ModelSpec } from '../formats/synthetic/lfm2.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../formats/synthetic/llama.js';
import { LLAMA4_SHAPES, llama4ModelSpec } from '../formats/synthetic/llama4.js';
import { MOE_SHAPES, moeModelSpec } from '../formats/synthetic/moe.js';
import { OLMO2_SHAPES, olmo2ModelSpec } from '../formats/synthetic/olmo2.js';
import { PHI3_SHAPES, phi3ModelSpec } from '../formats/synthetic/phi3.js';
import { QWEN3NEXT_SHAPES, qwen3nextModelSpec } from '../formats/synthetic/qwen3next.js';
import type { BuildGraph } from '../runtime/arch/context.js';
import { ARCHITECTURES } from '../runtime/arch/index.js';
import { loadModel, ModelError } from '../runtime/index.js';
import { sharedDir } from './helpers/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'run-gguf-declare-'));
const F32 = GGMLType.F32;
const llama = LLAMA_SHAPES['test-tiny']!;
const ln = (name: string) => LAYERNORM_SHAPES[name]!;

/** One file of every family and layout the synthetic writers know. */
const FAMILIES: { name: string; spec: () => GGUFWriteSpec; encoder?: boolean; contexts?: number[] }[] = [
  { name: 'llama', spec: () => llamaModelSpec(llama, F32) },
  { name: 'llama tied, rope_freqs', spec: () => llamaModelSpec({ ...llama, tied: true, ropeFreqs: true }, F32) },
  { name: 'llama with biases', spec: () => llamaModelSpec({ ...llama, biases: true }, F32) },
  { name: 'qwen2', spec: () => llamaModelSpec({ ...llama, arch: 'qwen2' }, F32) },
  { name: 'qwen3', spec: () => llamaModelSpec({ ...llama, arch: 'qwen3' }, F32) },
  { name: 'smollm3', spec: () => llamaModelSpec(LLAMA_SHAPES['test-smollm3']!, F32) },
  { name: 'mistral3', spec: () => llamaModelSpec(LLAMA_SHAPES['test-mistral3']!, F32) },
  ...Object.entries(ERNIE_SHAPES).map(([name, s]) => ({ name, spec: () => ernieModelSpec(s, F32) })),
  // the tiny shapes only: qwen3-30b-a3b (benchmarks) in F32 is a 120 GB file
  ...Object.entries(MOE_SHAPES).filter(([name]) => name.endsWith('-tiny')).map(([name, s]) => ({ name, spec: () => moeModelSpec(s, F32) })),
  { name: 'granitemoe shared', spec: () => moeModelSpec({ ...MOE_SHAPES['granitemoe-tiny']!, n_ff_shexp: 256 }, F32) },
  ...Object.entries(GEMMA_SHAPES).map(([name, s]) => ({ name, spec: () => gemmaModelSpec(s, F32) })),
  ...Object.entries(OLMO2_SHAPES).map(([name, s]) => ({ name, spec: () => olmo2ModelSpec(s, F32) })),
  ...Object.entries(GRANITE_SHAPES).map(([name, s]) => ({ name, spec: () => graniteModelSpec(s, F32) })),
  { name: 'granite tied, biases, no rope', spec: () => graniteModelSpec({ ...GRANITE_SHAPES['granite-tiny']!, tied: true, biases: true, ropeFinetuned: false }, F32) },
  // phi3 reads the short rope factors within n_ctx_orig (4096) and the long ones beyond
  ...Object.entries(PHI3_SHAPES).map(([name, s]) => ({ name, spec: () => phi3ModelSpec(s, F32), contexts: [64, 8192] })),
  ...Object.entries(LAYERNORM_SHAPES).map(([name, s]) => ({ name, spec: () => layerNormModelSpec(s, F32) })),
  { name: 'phi2 fused qkv', spec: () => layerNormModelSpec({ ...ln('phi2-tiny'), fusedQkv: true }, F32) },
  { name: 'gpt2 tied', spec: () => layerNormModelSpec({ ...ln('gpt2-tiny'), tied: true }, F32) },
  { name: 'stablelm 12B', spec: () => layerNormModelSpec({ ...ln('stablelm-tiny'), stablelm12B: true, n_head_kv: 2 }, F32) },
  { name: 'gptneox sequential', spec: () => layerNormModelSpec({ ...ln('gptneox-tiny'), parallelResidual: false }, F32) },
  { name: 'falcon 40B', spec: () => layerNormModelSpec({ ...ln('falcon-tiny'), n_head_kv: 2, attnNorm2: true }, F32) },
  ...Object.entries(BERT_SHAPES).map(([name, s]) => ({ name, spec: () => bertModelSpec(s, F32), encoder: true })),
  ...Object.entries(GPT_OSS_SHAPES).map(([name, s]) => ({ name, spec: () => gptOssModelSpec(s, F32) })),
  ...Object.entries(LFM2_SHAPES).map(([name, s]) => ({ name, spec: () => lfm2ModelSpec(s, F32) })),
  { name: 'lfm2 untied', spec: () => lfm2ModelSpec({ ...LFM2_SHAPES['test-lfm2']!, tied: false }, F32) },
  ...Object.entries(GRANITE_HYBRID_SHAPES).map(([name, s]) => ({ name, spec: () => graniteHybridModelSpec(s, F32) })),
  ...Object.entries(QWEN3NEXT_SHAPES).map(([name, s]) => ({ name, spec: () => qwen3nextModelSpec(s, F32) })),
  { name: 'granitehybrid tied, no rope', spec: () => graniteHybridModelSpec({ ...GRANITE_HYBRID_SHAPES['test-granitehybrid']!, tied: true, noRope: true }, F32) },
  ...Object.entries(DEEPSEEK2_SHAPES).map(([name, s]) => ({ name, spec: () => deepseek2ModelSpec(s, F32) })),
  // without its nextn block, whose tensors the next-token graph never reads (glm4moe-oracle tests that file)
  ...Object.entries(GLM4MOE_SHAPES).map(([name, s]) => ({ name, spec: () => glm4moeModelSpec({ ...s, nextn: 0 }, F32) })),
  ...Object.entries(LLAMA4_SHAPES).map(([name, s]) => ({ name, spec: () => llama4ModelSpec(s, F32) })),
];

/** The architecture's own graph, noting every weight it reads (w() and the wOpt() hits). */
function recording(arch: string, read: Set<string>): BuildGraph {
  const build = ARCHITECTURES[arch]!.build;
  return (c) => build({
    ...c,
    w: (name) => (read.add(name), c.w(name)),
    wOpt: (name) => {
      const t = c.wOpt(name);
      if (t) read.add(name);
      return t;
    },
  });
}

for (const f of FAMILIES) {
  test(`${f.name}: the graph reads exactly the file's tensors`, async () => {
    const spec = f.spec();
    const path = join(dir, `${f.name.replace(/\W+/g, '-')}.gguf`);
    await writeGGUF(path, spec);
    const arch = String(spec.kv.find((k) => k.key === 'general.architecture')!.value);
    const read = new Set<string>();
    const model = await loadModel(path, { buildGraph: recording(arch, read), contextSize: Math.max(...(f.contexts ?? [64])) });
    try {
      // one thread: what is read does not depend on the count, and no worker pool per family
      if (f.encoder) model.embedTokens([[101, 7, 8, 9, 102]], { threads: 1 });
      for (const n of f.encoder ? [] : f.contexts ?? [64]) {
        const ctx = model.createContext({ contextSize: n, batchSize: 8, threads: 1 });
        ctx.evaluate([1, 5, 9]);
        ctx.dispose();
      }
    } finally {
      model.dispose();
    }
    const written = new Set(spec.tensors!.map((t) => t.name));
    const unread = [...written].filter((n) => !read.has(n));
    const unwritten = [...read].filter((n) => !written.has(n));
    assert.equal(unread, [], `${f.name}: tensors the graph never reads`);
    assert.equal(unwritten, [], `${f.name}: tensors read but not in the file`);
  });
}

test('the tiny real models load', async () => {
  const models = sharedDir('models');
  if (!models) return;
  for (const file of ['llama-2-tiny-random.gguf', 'stories260K.gguf', 'tinyllamas-stories-260k-f32.gguf']) {
    const model = await loadModel(join(models, file));
    model.dispose();
  }
});

/** The error loading a llama file whose tensor list `edit` changed (tensor data is never read: zeros will do). */
async function refusal(what: string, edit: (spec: GGUFWriteSpec) => GGUFWriteSpec): Promise<ModelError> {
  const path = join(dir, `mutated-${what}.gguf`);
  await writeGGUF(path, edit(llamaModelSpec(llama, F32)));
  try {
    (await loadModel(path)).dispose();
  } catch (e) {
    assert.instance(e, ModelError, `${what}: ${String(e)}`);
    return e as ModelError;
  }
  assert.unreachable(`${what}: the file loaded`);
  return undefined as never;
}

const retensor = (spec: GGUFWriteSpec, tensors: GGUFWriteSpec['tensors']): GGUFWriteSpec => ({ ...spec, tensors });

test('a tensor the architecture does not declare is refused, by name', async () => {
  const e = await refusal('extra', (s) => retensor(s, [...s.tensors!, { name: 'blk.0.foo.weight', type: F32, shape: [256] }]));
  assert.match(e.message, 'unexpected tensor blk.0.foo.weight: llama declares no such tensor');
  assert.is(e.key, 'blk.0.foo.weight');
  // a tensor of another layout: Mixtral's router in a dense llama file
  const router = await refusal('router', (s) => retensor(s, [...s.tensors!, { name: 'blk.1.ffn_gate_inp.weight', type: F32, shape: [256, 8] }]));
  assert.match(router.message, 'unexpected tensor blk.1.ffn_gate_inp.weight');
});

test('a missing required tensor is refused, by name', async () => {
  const e = await refusal('missing', (s) => retensor(s, s.tensors!.filter((t) => t.name !== 'blk.1.attn_q.weight')));
  assert.match(e.message, 'tensor blk.1.attn_q.weight is missing');
  assert.ok(e.message.includes('mutated-missing.gguf'), e.message);
});

test('a tensor of the wrong shape is refused with the shape expected', async () => {
  const e = await refusal('shape', (s) => retensor(s, s.tensors!.map((t) => (t.name === 'blk.1.ffn_up.weight' ? { name: t.name, type: F32, shape: [256, 768] } : t))));
  assert.match(e.message, 'blk.1.ffn_up.weight has shape [256, 768], expected [256, 512] (n_embd, n_ff)');
  // a bias of the wrong width too
  const b = await refusal('bias', (s) => retensor(s, [...s.tensors!, { name: 'blk.0.ffn_down.bias', type: F32, shape: [512] }]));
  assert.match(b.message, 'blk.0.ffn_down.bias has shape [512], expected [256] (n_embd)');
});

test('a buildGraph override still has the file checked against its architecture', async () => {
  const path = join(dir, 'override.gguf');
  const spec = llamaModelSpec(llama, F32);
  await writeGGUF(path, retensor(spec, spec.tensors!.filter((t) => t.name !== 'blk.0.ffn_norm.weight')));
  const error = await loadModel(path, { buildGraph: ARCHITECTURES.llama!.build }).then((m) => (m.dispose(), undefined), (e: unknown) => e);
  assert.instance(error, ModelError);
  assert.match((error as Error).message, 'tensor blk.0.ffn_norm.weight is missing');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
