// general.file_type: llama.cpp's llama_ftype (include/llama.h), named as
// llama_model_ftype_name prints it, and guessed from the tensors when the key
// is absent, as llama_model_loader does.
import { GGMLType } from '../ggml-types.js';
import type { GGUFFile, GGUFTensorInfo } from './header.js';

export enum LlamaFileType {
  ALL_F32 = 0,
  MOSTLY_F16 = 1,
  MOSTLY_Q4_0 = 2,
  MOSTLY_Q4_1 = 3,
  // 4 (MOSTLY_Q4_1_SOME_F16), 5, 6 (Q4_2, Q4_3) were removed
  MOSTLY_Q8_0 = 7,
  MOSTLY_Q5_0 = 8,
  MOSTLY_Q5_1 = 9,
  MOSTLY_Q2_K = 10,
  MOSTLY_Q3_K_S = 11,
  MOSTLY_Q3_K_M = 12,
  MOSTLY_Q3_K_L = 13,
  MOSTLY_Q4_K_S = 14,
  MOSTLY_Q4_K_M = 15,
  MOSTLY_Q5_K_S = 16,
  MOSTLY_Q5_K_M = 17,
  MOSTLY_Q6_K = 18,
  MOSTLY_IQ2_XXS = 19,
  MOSTLY_IQ2_XS = 20,
  MOSTLY_Q2_K_S = 21,
  MOSTLY_IQ3_XS = 22,
  MOSTLY_IQ3_XXS = 23,
  MOSTLY_IQ1_S = 24,
  MOSTLY_IQ4_NL = 25,
  MOSTLY_IQ3_S = 26,
  MOSTLY_IQ3_M = 27,
  MOSTLY_IQ2_S = 28,
  MOSTLY_IQ2_M = 29,
  MOSTLY_IQ4_XS = 30,
  MOSTLY_IQ1_M = 31,
  MOSTLY_BF16 = 32,
  // 33-35 (Q4_0_4_4, Q4_0_4_8, Q4_0_8_8) were removed: Q4_0 is repacked at load time
  MOSTLY_TQ1_0 = 36,
  MOSTLY_TQ2_0 = 37,
  MOSTLY_MXFP4_MOE = 38,
  MOSTLY_NVFP4 = 39,
  MOSTLY_Q1_0 = 40,
  MOSTLY_Q2_0 = 41,
  /** Flag: not stored in the file but guessed from the tensor types. */
  GUESSED = 1024,
}

const F = LlamaFileType;
const NAMES: Partial<Record<LlamaFileType, string>> = {
  [F.ALL_F32]: 'all F32',
  [F.MOSTLY_F16]: 'F16',
  [F.MOSTLY_BF16]: 'BF16',
  [F.MOSTLY_Q1_0]: 'Q1_0',
  [F.MOSTLY_Q2_0]: 'Q2_0',
  [F.MOSTLY_Q4_0]: 'Q4_0',
  [F.MOSTLY_Q4_1]: 'Q4_1',
  [F.MOSTLY_Q5_0]: 'Q5_0',
  [F.MOSTLY_Q5_1]: 'Q5_1',
  [F.MOSTLY_Q8_0]: 'Q8_0',
  [F.MOSTLY_MXFP4_MOE]: 'MXFP4 MoE',
  [F.MOSTLY_NVFP4]: 'NVFP4',
  [F.MOSTLY_Q2_K]: 'Q2_K - Medium',
  [F.MOSTLY_Q2_K_S]: 'Q2_K - Small',
  [F.MOSTLY_Q3_K_S]: 'Q3_K - Small',
  [F.MOSTLY_Q3_K_M]: 'Q3_K - Medium',
  [F.MOSTLY_Q3_K_L]: 'Q3_K - Large',
  [F.MOSTLY_Q4_K_S]: 'Q4_K - Small',
  [F.MOSTLY_Q4_K_M]: 'Q4_K - Medium',
  [F.MOSTLY_Q5_K_S]: 'Q5_K - Small',
  [F.MOSTLY_Q5_K_M]: 'Q5_K - Medium',
  [F.MOSTLY_Q6_K]: 'Q6_K',
  [F.MOSTLY_TQ1_0]: 'TQ1_0 - 1.69 bpw ternary',
  [F.MOSTLY_TQ2_0]: 'TQ2_0 - 2.06 bpw ternary',
  [F.MOSTLY_IQ2_XXS]: 'IQ2_XXS - 2.0625 bpw',
  [F.MOSTLY_IQ2_XS]: 'IQ2_XS - 2.3125 bpw',
  [F.MOSTLY_IQ2_S]: 'IQ2_S - 2.5 bpw',
  [F.MOSTLY_IQ2_M]: 'IQ2_M - 2.7 bpw',
  [F.MOSTLY_IQ3_XS]: 'IQ3_XS - 3.3 bpw',
  [F.MOSTLY_IQ3_XXS]: 'IQ3_XXS - 3.0625 bpw',
  [F.MOSTLY_IQ1_S]: 'IQ1_S - 1.5625 bpw',
  [F.MOSTLY_IQ1_M]: 'IQ1_M - 1.75 bpw',
  [F.MOSTLY_IQ4_NL]: 'IQ4_NL - 4.5 bpw',
  [F.MOSTLY_IQ4_XS]: 'IQ4_XS - 4.25 bpw',
  [F.MOSTLY_IQ3_S]: 'IQ3_S - 3.4375 bpw',
  [F.MOSTLY_IQ3_M]: 'IQ3_S mix - 3.66 bpw',
};

/**
 * llama.cpp's name for a file type: "Q4_K - Medium", "F16", "all F32";
 * "(guessed) F16" when the GUESSED flag is set; "unknown, may not work" for
 * ids llama.cpp does not know (or no longer knows).
 */
export function llamaFileTypeName(ftype: number): string {
  const guessed = (ftype & F.GUESSED) !== 0;
  const name = NAMES[(ftype & ~F.GUESSED) as LlamaFileType] ?? 'unknown, may not work';
  return guessed ? `(guessed) ${name}` : name;
}

// Which file type a model "mostly" of one tensor type is (k-quants as their M variant).
const FROM_TENSOR_TYPE: Partial<Record<GGMLType, LlamaFileType>> = {
  [GGMLType.F32]: F.ALL_F32,
  [GGMLType.F16]: F.MOSTLY_F16,
  [GGMLType.BF16]: F.MOSTLY_BF16,
  [GGMLType.Q4_0]: F.MOSTLY_Q4_0,
  [GGMLType.Q4_1]: F.MOSTLY_Q4_1,
  [GGMLType.Q5_0]: F.MOSTLY_Q5_0,
  [GGMLType.Q5_1]: F.MOSTLY_Q5_1,
  [GGMLType.Q8_0]: F.MOSTLY_Q8_0,
  [GGMLType.Q2_K]: F.MOSTLY_Q2_K,
  [GGMLType.Q3_K]: F.MOSTLY_Q3_K_M,
  [GGMLType.Q4_K]: F.MOSTLY_Q4_K_M,
  [GGMLType.Q5_K]: F.MOSTLY_Q5_K_M,
  [GGMLType.Q6_K]: F.MOSTLY_Q6_K,
  [GGMLType.TQ1_0]: F.MOSTLY_TQ1_0,
  [GGMLType.TQ2_0]: F.MOSTLY_TQ2_0,
  [GGMLType.IQ2_XXS]: F.MOSTLY_IQ2_XXS,
  [GGMLType.IQ2_XS]: F.MOSTLY_IQ2_XS,
  [GGMLType.IQ2_S]: F.MOSTLY_IQ2_S,
  [GGMLType.IQ3_XXS]: F.MOSTLY_IQ3_XXS,
  [GGMLType.IQ1_S]: F.MOSTLY_IQ1_S,
  [GGMLType.IQ1_M]: F.MOSTLY_IQ1_M,
  [GGMLType.IQ4_NL]: F.MOSTLY_IQ4_NL,
  [GGMLType.IQ4_XS]: F.MOSTLY_IQ4_XS,
  [GGMLType.IQ3_S]: F.MOSTLY_IQ3_S,
};

/**
 * The file type llama.cpp guesses (with the GUESSED flag) from the most
 * common tensor type. Like llama_model_loader it walks tensors in name order
 * (std::map) and a later type must be strictly more common to win, so ties
 * go to the type of the alphabetically first tensor.
 */
export function guessFileType(tensors: readonly Pick<GGUFTensorInfo, 'name' | 'type'>[]): number {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const counts = new Map<GGMLType, number>();
  let best = 0;
  let bestType = GGMLType.F32;
  for (const t of sorted) {
    const n = (counts.get(t.type) ?? 0) + 1;
    counts.set(t.type, n);
    if (n > best) {
      best = n;
      bestType = t.type;
    }
  }
  return (FROM_TENSOR_TYPE[bestType] ?? F.ALL_F32) | F.GUESSED;
}

export interface FileTypeInfo {
  /** The llama_ftype id (without the GUESSED flag), or null when there is nothing to go on. */
  id: number | null;
  name: string;
  guessed: boolean;
}

/**
 * The model's file type: general.file_type when present, else guessed from
 * the tensors; "unknown" for a file with neither (vocab-only files).
 */
export function fileTypeOf(file: Pick<GGUFFile, 'metadata' | 'tensors'>): FileTypeInfo {
  const v = file.metadata.get('general.file_type');
  const stored = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined;
  if (stored !== undefined) return { id: stored & ~F.GUESSED, name: llamaFileTypeName(stored), guessed: false };
  if (file.tensors.length === 0) return { id: null, name: 'unknown', guessed: false };
  const g = guessFileType(file.tensors);
  return { id: g & ~F.GUESSED, name: llamaFileTypeName(g), guessed: true };
}
