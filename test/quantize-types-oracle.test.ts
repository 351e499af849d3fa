// Per-tensor types against llama-quantize itself: F16 models of several
// shapes (Mixtral with 8 experts, a dense GQA Llama, qwen2moe with a shared
// expert, qwen3moe, a Falcon with fused qkv, a tied qwen2 whose rows are not
// whole k-quant blocks) are quantized by llama.cpp's llama_model_quantize
// (test/helpers/llama-quantize.ts) and by us; both files are read back with
// formats/gguf and every tensor's type must be the same. A deliberately
// broken rule set (the expert count ignored) must be caught by the same
// comparison. The IQ4 / ternary / MXFP4_MOE presets and the grid i-quant
// ones are checked on every model against llama.cpp's dry run (its types
// without quantizing), with and without an imatrix; then small models are
// written in the new presets by both, and every tensor's bytes must be the
// same. Skips, saying why, where the native library cannot be loaded.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType, ggmlTypeName } from '../formats/ggml-types.js';
import { readGGUF, readTensorData, writeGGUF, type GGUFFile, type GGUFWriteSpec } from '../formats/gguf/index.js';
import {
  GRID_PRESETS, llamaTensorTypes, planQuantize, PRESETS, quantizeHParams, type QuantizeOptions,
} from '../formats/quantize/index.js';
import { LAYERNORM_SHAPES, layerNormModelSpec } from '../formats/synthetic/layernorm.js';
import { llamaModelSpec } from '../formats/synthetic/llama.js';
import { quantMixFor } from '../formats/synthetic/mix.js';
import { MOE_SHAPES, moeModelSpec } from '../formats/synthetic/moe.js';
import { quantizeModel } from '../runtime/quantize/index.js';
import { llamaQuantizer } from './helpers/llama-quantize.js';
import { mulberry32 } from './helpers/rng.js';

const Q = GGMLType;
const dir = mkdtempSync(join(tmpdir(), 'run-gguf-quantize-types-'));
const oracle = await llamaQuantizer();

/** The presets whose types are checked by writing llama.cpp's file (Q2_K_S, which needs an imatrix, is tested apart). */
const NEW = ['IQ4_NL', 'IQ4_XS', 'TQ1_0', 'TQ2_0', 'MXFP4_MOE'];
const ALL = Object.keys(PRESETS).filter((p) => p !== 'Q2_K_S' && !NEW.includes(p));

/** Row lengths are multiples of 256 unless said otherwise, so the k-quant rules (not the fallback) decide. */
const MODELS: Record<string, { spec: () => GGUFWriteSpec; presets: string[] }> = {
  // Mixtral: 8 experts (attn_k / attn_v / attn_output bumps), ffn_down_exps by layer; 8 layers so use_more_bits
  // varies. The k-quant presets with and without the attn_output bump, and the legacy ones' attn_k / attn_v.
  mixtral: {
    spec: () => moeModelSpec({ ...MOE_SHAPES['mixtral-tiny']!, n_layer: 8, n_ff_exp: 256 }, Q.F16, { seed: 11 }),
    presets: ['Q4_K_M', 'Q3_K_M', 'Q2_K', 'Q3_K_S', 'Q3_K_L', 'Q4_K_S', 'Q5_K_S', 'Q5_K_M', 'Q6_K', 'Q4_0', 'Q8_0', 'F16'],
  },
  // dense Llama with GQA 4 (Q2_K's attn_v rule); 16 layers: blk.10.. sort after blk.9 in llama.cpp's order
  'llama-gqa': { spec: () => llamaModelSpec({ n_vocab: 512, n_embd: 256, n_layer: 16, n_head: 8, n_head_kv: 2, n_ff: 256, n_ctx_train: 512 }, Q.F16, { seed: 12 }), presets: ALL },
  // 12 experts and a shared expert: two ffn_down per layer, layers read from the names
  qwen2moe: { spec: () => moeModelSpec({ ...MOE_SHAPES['qwen2moe-tiny']!, n_layer: 4 }, Q.F16, { seed: 13 }), presets: ['Q4_K_M', 'Q3_K_M', 'Q2_K', 'Q4_K_S', 'Q5_K_M', 'Q3_K_L'] },
  qwen3moe: { spec: () => moeModelSpec({ ...MOE_SHAPES['qwen3moe-tiny']!, n_layer: 4 }, Q.F16, { seed: 14 }), presets: ['Q4_K_M', 'Q3_K_M', 'Q2_K'] },
  // Falcon: fused attn_qkv (counted and typed as attn_v), its own output and ffn_down rules
  falcon: { spec: () => layerNormModelSpec({ ...LAYERNORM_SHAPES['falcon-tiny']!, n_layer: 16 }, Q.F16, { seed: 15 }), presets: ['Q4_K_M', 'Q3_K_M', 'Q2_K', 'Q3_K_L', 'Q4_K_S', 'Q5_K_M'] },
  // tied head and rows of 384 / 1152: the head's and the fallback rules
  'qwen2-tied-384': {
    spec: () => llamaModelSpec({ arch: 'qwen2', tied: true, n_vocab: 512, n_embd: 384, n_layer: 3, n_head: 6, n_head_kv: 2, n_ff: 1152, n_ctx_train: 512 }, Q.F16, { seed: 16 }),
    presets: ['Q4_K_M', 'Q3_K_M', 'Q2_K', 'Q6_K', 'Q4_0'],
  },
};

const inputOf = (model: string) => join(dir, `${model}-f16.gguf`);

async function typesOf(path: string): Promise<Map<string, string>> {
  return new Map((await readGGUF(path)).tensors.map((t) => [t.name, ggmlTypeName(t.type)]));
}

/** "name: ours X, llama.cpp Y" for every tensor whose types differ (or that one side lacks). */
function mismatches(ours: Map<string, string>, theirs: Map<string, string>): string[] {
  const names = new Set([...ours.keys(), ...theirs.keys()]);
  return [...names].filter((n) => ours.get(n) !== theirs.get(n)).map((n) => `${n}: ours ${ours.get(n)}, llama.cpp ${theirs.get(n)}`);
}

/**
 * llama.cpp's types for a model and preset, once per test process: its dry run,
 * which goes through the same per-tensor rules as writing the file (the byte
 * comparisons below write real files on both sides) at the cost of a file read.
 */
const written = new Map<string, Promise<Map<string, string>>>();
function theirTypes(model: string, preset: string, opts: Pick<QuantizeOptions, 'pure' | 'outputTensorType' | 'tokenEmbeddingType'> = {}, tag = ''): Promise<Map<string, string>> {
  const key = `${model}-${preset}${tag}`;
  if (!written.has(key)) {
    if (typeof oracle === 'string') throw new Error(oracle);
    written.set(key, Promise.resolve(oracle.dryRun(inputOf(model), { ftype: PRESETS[preset]!.ftype, ...opts }).types));
  }
  return written.get(key)!;
}

/** ggml's importance for every matrix, made up: one positive weight per column (per column and expert when stacked). */
function syntheticImatrix(file: GGUFFile, seed: number): Map<string, Float32Array> {
  const rand = mulberry32(seed);
  const im = new Map<string, Float32Array>();
  for (const t of file.tensors) {
    if (t.shape.length < 2 || !t.name.endsWith('.weight') || t.name.includes('_norm')) continue;
    // a spread of 1 : e^6, so the weighted searches choose differently from the plain ones
    im.set(t.name, Float32Array.from({ length: t.shape[0]! * (t.shape[2] ?? 1) }, () => Math.exp(6 * (rand() - 0.5))));
  }
  return im;
}

/** llama.cpp's dry run (types only, nothing quantized) for a model and preset, once per test process. */
const dryRuns = new Map<string, { types: Map<string, string>; requiresImatrix: boolean }>();
function theirDryRun(model: string, ftype: number, imatrix?: Map<string, Float32Array>) {
  const key = `${model}-${ftype}-${imatrix ? 'im' : ''}`;
  if (!dryRuns.has(key)) {
    if (typeof oracle === 'string') throw new Error(oracle);
    dryRuns.set(key, oracle.dryRun(inputOf(model), { ftype, ...(imatrix ? { imatrix } : {}) }));
  }
  return dryRuns.get(key)!;
}

/**
 * Small models written by both sides for the byte comparison (the file-level
 * check; quant-iq-grid-quantize.test.ts compares the quantizers on many more
 * rows): a GQA-4 Llama with rows of
 * 256 and an untied embedding, and a 4-expert qwen3moe for MXFP4 and the
 * per-expert imatrix slices.
 */
const BYTE_MODELS: Record<string, () => GGUFWriteSpec> = {
  'bytes-llama': () => llamaModelSpec({ n_vocab: 512, n_embd: 256, n_layer: 2, n_head: 8, n_head_kv: 2, n_ff: 256, n_ctx_train: 512 }, Q.F16, { seed: 17 }),
  'bytes-moe': () => moeModelSpec({ ...MOE_SHAPES['qwen3moe-tiny']!, n_expert: 4, n_expert_used: 2 }, Q.F16, { seed: 18 }),
};

if (typeof oracle === 'string') {
  rmSync(dir, { recursive: true, force: true });
  test('per-tensor types against llama-quantize', () => console.log(`  skip: ${oracle}`));
} else {
  test.before(async () => {
    for (const [name, m] of Object.entries(MODELS)) await writeGGUF(inputOf(name), m.spec());
    for (const [name, spec] of Object.entries(BYTE_MODELS)) await writeGGUF(inputOf(name), spec());
  });

  // Our own files, written by quantizeGGUF, for the three presets the issue names, on the Mixtral
  for (const preset of ['Q4_K_M', 'Q3_K_M', 'Q2_K']) {
    test(`mixtral ${preset}: the file we write has llama-quantize's type for every tensor`, async () => {
      const out = join(dir, `mixtral-${preset}-ours.gguf`);
      await quantizeModel(inputOf('mixtral'), out, preset, { threads: 2 });
      const diff = mismatches(await typesOf(out), await theirTypes('mixtral', preset));
      assert.equal(diff, [], diff.join('\n'));
      rmSync(out);
    });
  }

  // The plan (what quantizeGGUF would write) for every model and preset
  for (const [model, m] of Object.entries(MODELS)) {
    test(`${model}: planQuantize gives llama-quantize's types for ${m.presets.join(' ')}`, async () => {
      const file = await readGGUF(inputOf(model));
      for (const preset of m.presets) {
        const ours = new Map(planQuantize(file, preset).tensors.map((p) => [p.tensor.name, ggmlTypeName(p.type)]));
        const diff = mismatches(ours, await theirTypes(model, preset));
        assert.equal(diff, [], `${preset}:\n${diff.join('\n')}`);
      }
    });
  }

  test('--pure, --output-tensor-type and --token-embedding-type as llama-quantize applies them (tied head too)', async () => {
    const cases: [string, string, Pick<QuantizeOptions, 'pure' | 'outputTensorType' | 'tokenEmbeddingType'>, string][] = [
      ['mixtral', 'Q4_K_M', { pure: true }, '-pure'],
      ['mixtral', 'Q3_K_M', { outputTensorType: Q.Q8_0, tokenEmbeddingType: Q.Q5_0 }, '-ott-tet'],
      // tied: token_embd takes --output-tensor-type (then the row-length fallback); with --pure it does not
      ['qwen2-tied-384', 'Q4_K_M', { outputTensorType: Q.Q4_K }, '-ott'],
      ['qwen2-tied-384', 'Q2_K', { pure: true, outputTensorType: Q.Q8_0 }, '-pure-ott'],
      ['llama-gqa', 'F16', { outputTensorType: Q.Q6_K, tokenEmbeddingType: Q.Q8_0 }, '-ott-tet'],
    ];
    for (const [model, preset, opts, tag] of cases) {
      const file = await readGGUF(inputOf(model));
      const ours = new Map(planQuantize(file, preset, opts).tensors.map((p) => [p.tensor.name, ggmlTypeName(p.type)]));
      const diff = mismatches(ours, await theirTypes(model, preset, opts, tag));
      assert.equal(diff, [], `${model} ${preset}${tag}:\n${diff.join('\n')}`);
    }
  });

  test('Q2_K_S without an imatrix: llama-quantize and we both refuse', async () => {
    const out = join(dir, 'q2ks-llama.cpp.gguf');
    assert.throws(() => (oracle as Exclude<typeof oracle, string>).quantize(inputOf('llama-gqa'), out, { ftype: PRESETS.Q2_K_S!.ftype }), /failed/);
    const file = await readGGUF(inputOf('llama-gqa'));
    assert.throws(() => planQuantize(file, 'Q2_K_S'), /requires an importance matrix/);
    // with one, the plan is made (the imatrix rules of llama.cpp are checked by hand in quantize.test.ts)
    const plan = planQuantize(file, 'Q2_K_S', { hasImatrix: true });
    assert.is(plan.tensors.find((p) => p.tensor.name === 'blk.0.attn_q.weight')!.requiresImatrix, true);
  });

  // The new presets' rules: llama.cpp's dry run gives its types without quantizing anything
  for (const model of ['mixtral', 'llama-gqa', 'qwen3moe']) {
    test(`${model}: planQuantize gives llama-quantize's types for ${NEW.join(' ')}, with and without an imatrix`, async () => {
      const file = await readGGUF(inputOf(model));
      const imatrix = syntheticImatrix(file, 3);
      for (const preset of NEW) {
        for (const withImatrix of [false, true]) {
          const theirs = theirDryRun(model, PRESETS[preset]!.ftype, withImatrix ? imatrix : undefined);
          assert.is(theirs.requiresImatrix, false);
          const ours = new Map(planQuantize(file, preset, { hasImatrix: withImatrix }).tensors.map((p) => [p.tensor.name, ggmlTypeName(p.type)]));
          const diff = mismatches(ours, theirs.types);
          assert.equal(diff, [], `${preset}${withImatrix ? ' --imatrix' : ''}:\n${diff.join('\n')}`);
        }
      }
    });
  }

  test('grid i-quant presets: refused without an imatrix exactly where llama-quantize refuses, typed as it types them', async () => {
    for (const model of ['mixtral', 'llama-gqa', 'qwen3moe']) {
      const file = await readGGUF(inputOf(model));
      const hp = quantizeHParams((k) => file.metadata.get(k));
      const imatrix = syntheticImatrix(file, 4);
      for (const [preset, { ftype }] of Object.entries(GRID_PRESETS)) {
        const bare = theirDryRun(model, ftype);
        // llama.cpp's verdict: every grid type below IQ3_S needs one; IQ3_S / IQ3_M files hold none of them
        assert.is(bare.requiresImatrix, !['IQ3_S', 'IQ3_M'].includes(preset), `${model} ${preset}: llama.cpp's imatrix requirement`);
        if (bare.requiresImatrix) {
          assert.throws(() => planQuantize(file, preset), /^this quantization requires an importance matrix \(--imatrix\): offending tensor \S+, target type I?Q/);
        } else {
          const ours = new Map(planQuantize(file, preset).tensors.map((p) => [p.tensor.name, ggmlTypeName(p.type)]));
          const diff = mismatches(ours, bare.types);
          assert.equal(diff, [], `${model} ${preset} (planned without an imatrix):\n${diff.join('\n')}`);
        }
        // the same tensor types as llama.cpp's, without and with an imatrix (IQ3_XXS's attn_v and ffn_down depend on it)
        for (const im of [undefined, imatrix]) {
          const theirs = im ? theirDryRun(model, ftype, im) : bare;
          const ours = llamaTensorTypes(file.tensors, hp, { ftype, hasImatrix: im !== undefined });
          const diff = mismatches(new Map(file.tensors.map((t, i) => [t.name, ggmlTypeName(ours[i]!.type)])), theirs.types);
          assert.equal(diff, [], `${model} ${preset}${im ? ' --imatrix' : ''}:\n${diff.join('\n')}`);
        }
        // and the plan with one is what quantizeGGUF writes
        const planned = new Map(planQuantize(file, preset, { hasImatrix: true }).tensors.map((p) => [p.tensor.name, ggmlTypeName(p.type)]));
        const diff = mismatches(planned, theirDryRun(model, ftype, imatrix).types);
        assert.equal(diff, [], `${model} ${preset} --imatrix (plan):\n${diff.join('\n')}`);
      }
    }
  });

  // Byte for byte: our file and llama.cpp's, tensor by tensor (the metadata differs only by the imatrix keys
  // llama-quantize's command line adds, which the library call does not)
  const BYTE_CASES: [string, string, boolean][] = [
    ['bytes-llama', 'IQ4_NL', false], ['bytes-llama', 'IQ4_XS', false], ['bytes-llama', 'TQ1_0', false], ['bytes-llama', 'TQ2_0', false],
    ['bytes-moe', 'MXFP4_MOE', false],
    ['bytes-llama', 'IQ4_NL', true], ['bytes-llama', 'IQ4_XS', true], ['bytes-moe', 'IQ4_XS', true],
    // the grid i-quant presets most used, with an imatrix (IQ2_M: IQ2_S and IQ3_S... ; IQ3_M: IQ3_S, Q4_K...; IQ1_M: IQ1_M, IQ2_XXS...)
    ['bytes-llama', 'IQ2_M', true], ['bytes-llama', 'IQ3_M', true], ['bytes-llama', 'IQ1_M', true],
  ];
  const presetOf = (name: string) => PRESETS[name] ?? GRID_PRESETS[name]!;
  for (const [model, preset, withImatrix] of BYTE_CASES) {
    test(`${model} ${preset}${withImatrix ? ' --imatrix' : ''}: every tensor's type and bytes are llama-quantize's`, async () => {
      const file = await readGGUF(inputOf(model));
      const imatrix = withImatrix ? syntheticImatrix(file, 5) : undefined;
      const tag = `${model}-${preset}${withImatrix ? '-im' : ''}`;
      const theirPath = join(dir, `${tag}-llama.cpp.gguf`);
      const ourPath = join(dir, `${tag}-ours.gguf`);
      (oracle as Exclude<typeof oracle, string>).quantize(inputOf(model), theirPath, { ftype: presetOf(preset).ftype, ...(imatrix ? { imatrix } : {}) });
      const warnings: string[] = [];
      await quantizeModel(inputOf(model), ourPath, preset, {
        threads: 2, onWarning: (m) => warnings.push(m),
        ...(imatrix ? { imatrix: { weights: imatrix, datasets: [], chunkCount: 0 } } : {}),
      });
      assert.equal(warnings, []);
      const [ours, theirs] = [await readGGUF(ourPath), await readGGUF(theirPath)];
      // (llama.cpp writes in its loader's order, we in the input's: tensors are matched by name)
      const byName = new Map(theirs.tensors.map((u) => [u.name, u]));
      assert.equal(ours.tensors.map((t) => t.name).sort(), [...byName.keys()].sort());
      const types = new Set<string>();
      for (const t of ours.tensors) {
        const u = byName.get(t.name)!;
        assert.is(ggmlTypeName(t.type), ggmlTypeName(u.type), t.name);
        types.add(ggmlTypeName(t.type));
        const [a, b] = [await readTensorData(t), await readTensorData(u)];
        assert.ok(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)), `${t.name} (${ggmlTypeName(t.type)}): bytes differ`);
      }
      // the preset's own type is among them (not everything fell back or was bumped)
      assert.ok(types.has(ggmlTypeName(presetOf(preset).base)), [...types].join(' '));
      rmSync(ourPath);
      rmSync(theirPath);
    });
  }

  test('a rule set that ignores the expert count (the old dense-Llama view) is caught by the same comparison', async () => {
    const file = await readGGUF(inputOf('mixtral'));
    const hp = quantizeHParams((k) => file.metadata.get(k));
    assert.is(hp.nExpert, 8);
    for (const preset of ['Q4_K_M', 'Q3_K_M', 'Q2_K']) {
      const theirs = await theirTypes('mixtral', preset);
      const broken = llamaTensorTypes(file.tensors, { ...hp, nExpert: 0 }, { ftype: PRESETS[preset]!.ftype });
      const diff = mismatches(new Map(file.tensors.map((t, i) => [t.name, ggmlTypeName(broken[i]!.type)])), theirs);
      // every layer's attn_k and attn_v lose their Q8_0, attn_output its Q5_K
      for (let il = 0; il < 8; il++) {
        for (const n of ['attn_k', 'attn_v', 'attn_output']) assert.ok(diff.some((d) => d.startsWith(`blk.${il}.${n}.weight:`)), `${preset}: blk.${il}.${n} not caught`);
      }
      assert.is(theirs.get('blk.0.attn_k.weight'), 'Q8_0');
    }
  });

  test('the synthetic generator types a Mixtral as llama-quantize does (quantMixFor over the same tensor list; the grid i-quant types as with an imatrix)', async () => {
    const spec = MODELS.mixtral!.spec();
    for (const preset of ['Q4_K_M', 'Q2_K', ...NEW]) {
      const mix = quantMixFor(preset, spec);
      const theirs = NEW.includes(preset) ? theirDryRun('mixtral', PRESETS[preset]!.ftype).types : await theirTypes('mixtral', preset);
      for (const t of spec.tensors ?? []) {
        if (t.shape.length < 2 || t.name.includes('ffn_gate_inp')) continue;
        assert.is(ggmlTypeName(mix.matrixType(t.name, t.shape[0]!, t.shape[1]!)), theirs.get(t.name), `${preset} ${t.name}`);
      }
    }
    // the grid i-quant file types are typed as llama-quantize types them with an imatrix
    const imatrix = syntheticImatrix(await readGGUF(inputOf('mixtral')), 4);
    for (const preset of ['IQ2_M', 'IQ3_XXS', 'IQ1_S']) {
      const mix = quantMixFor(preset, spec);
      const theirs = theirDryRun('mixtral', GRID_PRESETS[preset]!.ftype, imatrix).types;
      for (const t of spec.tensors ?? []) {
        if (t.shape.length < 2 || t.name.includes('ffn_gate_inp')) continue;
        assert.is(ggmlTypeName(mix.matrixType(t.name, t.shape[0]!, t.shape[1]!)), theirs.get(t.name), `${preset} ${t.name}`);
      }
    }
  });

  test.after(() => rmSync(dir, { recursive: true, force: true }));
}

test.run();
