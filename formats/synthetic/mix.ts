// Which type each tensor of a synthetic model gets for a llama-quantize file
// type: "Q4_K_M" is Q4_K with Q6_K for the output, for half the attn_v and
// ffn_down matrices, and so on. The choice is the quantizer's own
// (formats/quantize llamaTensorTypes), run on the model's metadata and tensor
// list, so a synthetic file has the types llama-quantize would give it.
import { allGGMLTypes, GGMLType } from '../ggml-types.js';
import type { LlamaFileType } from '../gguf/file-type.js';
import type { GGUFKVInput, GGUFWriteSpec } from '../gguf/index.js';
import { GRID_PRESETS, llamaTensorTypes, PRESETS, presetNames, quantizeHParams } from '../quantize/tensor-type.js';
import { fileTypeFor, llamaModelSpec, type LlamaShape } from './llama.js';

/** The file types `quantMix` knows, by llama-quantize's name (the grid i-quant ones typed as with an imatrix). */
export function mixNames(): string[] {
  return [...presetNames(), ...Object.keys(GRID_PRESETS)];
}

export interface QuantMix {
  /** The name asked for, canonical case ("Q4_K_M", "Q4_K:pure"). */
  name: string;
  /** The type of most matrices. */
  base: GGMLType;
  fileType: LlamaFileType;
  /** The type of one matrix (norms and other vectors stay F32 whatever this says). */
  matrixType(name: string, nIn: number, nOut: number): GGMLType;
}

/**
 * The mix for a name and a model: a llama-quantize file type ("Q4_K_M",
 * "Q4_0", "F16") typed as llama-quantize would type `model`'s tensors; ":pure"
 * after a file type is llama-quantize --pure (every matrix in its base type,
 * but for the row-length fallback); a grid i-quant file type ("IQ2_XXS",
 * "IQ2_M") is typed as llama-quantize types it with an imatrix, the
 * generator quantizing those types with an importance of ones (tensors.ts);
 * a bare ggml type name ("Q4_K") puts every
 * matrix in that type, as is. `model` is the model's write spec (any tensor
 * types: only its metadata, names and shapes are read).
 */
export function quantMixFor(spec: string, model: GGUFWriteSpec): QuantMix {
  const [rawName, flag, ...rest] = spec.split(':');
  const upper = (rawName ?? '').toUpperCase();
  if (rest.length > 0 || (flag !== undefined && flag.toLowerCase() !== 'pure')) {
    throw new RangeError(`"${spec}": expected TYPE or TYPE:pure`);
  }
  // a grid i-quant file type (IQ2_M...) is typed as llama-quantize types it with an imatrix (which it
  // requires for most of them); the generator quantizes those matrices with an importance of ones
  const grid = GRID_PRESETS[upper];
  const preset = PRESETS[upper] ?? grid;
  if (preset) {
    const kv = new Map((model.kv ?? []).map((e: GGUFKVInput) => [e.key, e.value]));
    const tensors = (model.tensors ?? []).map((t) => ({ name: t.name, shape: t.shape, type: t.type }));
    const choices = llamaTensorTypes(tensors, quantizeHParams((k) => kv.get(k)), { ftype: preset.ftype, pure: flag !== undefined, hasImatrix: grid !== undefined });
    const byName = new Map(tensors.map((t, i) => [t.name, choices[i]!]));
    return {
      name: flag === undefined ? upper : `${upper}:pure`, base: preset.base, fileType: preset.ftype,
      matrixType: (name) => {
        const c = byName.get(name);
        if (!c) throw new RangeError(`${name} is not a tensor of this model`);
        // a matrix llama-quantize would leave alone (a router) is written in the mix's base type anyway,
        // as the generators ask for it only for matrices they quantize
        return c.allowsQuantization ? c.type : preset.base;
      },
    };
  }
  const base = ggmlTypeByName(upper);
  if (base === undefined) {
    throw new RangeError(`unknown weight type "${rawName}" (file types: ${mixNames().join(', ')}; or a ggml type name)`);
  }
  return { name: flag === undefined ? upper : `${upper}:pure`, base, fileType: fileTypeFor(base), matrixType: () => base };
}

/** quantMixFor a random Llama of `shape` (llamaModelSpec). */
export function quantMix(spec: string, shape: LlamaShape): QuantMix {
  return quantMixFor(spec, llamaModelSpec(shape, GGMLType.F32));
}

function ggmlTypeByName(name: string): GGMLType | undefined {
  return allGGMLTypes().find((i) => i.name.toUpperCase() === name)?.id;
}
