// Every function wasm/kernels.wasm and wasm/kernels-relaxed.wasm export, with
// its parameters named as kernels/ names them. WebAssembly calls are
// unchecked: a missing argument arrives as 0 and an extra one is dropped, so
// a phase one argument short runs and gives wrong numbers. This table is what
// loadKernels checks each build against (an export's .length is its
// parameter count) and what a graph's phases are checked against when they
// are added (runtime/graph/graph.ts). A kernel added to or changed in
// kernels/ needs its entry here; the check at load says which.
//
// Three kinds:
//   op      a graph phase: called as fn(...args, ith, nth) on every thread
//           (runtime/graph/exec.ts appends ith, nth), so its last two
//           parameters are ith and nth;
//   helper  called directly, once, by the runtime, the tests or the benches
//           (one row, one matvec, a work-buffer size, a repack);
//   runtime emcc's runtime in the baseline build: the allocator, the stack,
//           the data initialisation (named as in loader.ts, not kernels/).

export type KernelKind = 'op' | 'helper' | 'runtime';

/** Parameters of an op kernel: whatever it takes, then the thread's share. */
type OpParams = readonly [...string[], 'ith', 'nth'];
type Params = readonly string[];

/**
 * One parameter list for a family of kernels the C source stamps out from
 * one macro (MAT_ROWS(t), GET_ROWS(t), ...): prefix + t + suffix for each t.
 */
function family<const Pre extends string, const T extends string, const Suf extends string, const P extends Params>(
  prefix: Pre, types: readonly T[], suffix: Suf, params: P,
): { readonly [K in T as `${Pre}${K}${Suf}`]: P } {
  return Object.fromEntries(types.map((t) => [`${prefix}${t}${suffix}`, params])) as { [K in T as `${Pre}${K}${Suf}`]: P };
}

// Parameter lists shared by several families (kernels/rows.c, moe.h, relaxed.h declare them once too).
const QUANTIZE_ROW = ['x', 'vy', 'n'] as const;
const CONVERT_ROW = ['x', 'y', 'n'] as const;
const DEQUANTIZE_ROW = ['vx', 'y', 'n'] as const;
const VEC_DOT = ['n', 'w', 'a'] as const;
const MATVEC = ['w', 'row_bytes', 'a', 'out', 'n', 'r0', 'r1'] as const;
const MUL_MAT = ['w', 'row_bytes', 'a', 'a_row_bytes', 'out', 'out_stride', 'n', 'n_tok', 'r0', 'r1'] as const;
const MAT_ROWS = ['w', 'row_bytes', 'a', 'a_row_bytes', 'out', 'out_stride', 'n', 'n_tok', 'n_rows', 'ith', 'nth'] as const;
const MAT_ROWS_ID = ['w', 'row_bytes', 'expert_bytes', 'meta', 'n_expert', 'act', 'act_row_bytes', 'sorted', 'n_out', 'n', 'ith', 'nth'] as const;
const CONVERT_ROWS = ['x', 'x_stride', 'y', 'y_row_bytes', 'n', 'n_rows', 'ith', 'nth'] as const;
const GET_ROWS_Q = ['table', 'row_bytes', 'ids', 'y', 'n_ids', 'n', 'ith', 'nth'] as const;
const BINARY = ['a', 'b', 'y', 'n_rows', 'n', 'n_b_rows', 'ith', 'nth'] as const;
const GATED = ['gate', 'up', 'y', 'n_rows', 'n', 'gate_stride', 'up_stride', 'ith', 'nth'] as const;
const UNARY = ['x', 'y', 'n', 'ith', 'nth'] as const;
const GET_ROWS = ['table', 'ids', 'y', 'n_ids', 'n', 'ith', 'nth'] as const;
const REPACK = ['w', 'row_bytes', 'n_rows', 'scratch'] as const;

const LEGACY = ['q4_0', 'q4_1', 'q5_0', 'q5_1', 'q8_0'] as const;
const KQUANTS = ['q2_K', 'q3_K', 'q4_K', 'q5_K', 'q6_K'] as const;
/** iquants.c, ternary.c: the row kernels of kernels/rowdot.h (DEFINE_ROW_KERNELS), by vec_dot_type. */
const ROWDOT_Q8_0 = ['iq4_nl', 'mxfp4'] as const;
const ROWDOT_Q8_K = ['iq4_xs', 'tq1_0', 'tq2_0'] as const;
const ROWDOT = [...ROWDOT_Q8_0, ...ROWDOT_Q8_K] as const;
/** The grid i-quants (iquants-grid.c): q8_K activations. */
const IQ_GRID = ['iq2_xxs', 'iq2_xs', 'iq2_s', 'iq3_xxs', 'iq3_s', 'iq1_s', 'iq1_m'] as const;
/** The weight types the baseline build multiplies (rows.c MAT_ROWS, moe.c MAT_ROWS_ID, matmul-*.c) and reads by row (get_rows_*). */
export const WEIGHT_TYPES = ['f32', 'f16', 'bf16', ...LEGACY, ...KQUANTS, ...ROWDOT, ...IQ_GRID] as const;
/** The weight layouts only the relaxed module has (runtime/repack.ts writes them). */
const RELAXED_LAYOUTS = ['q2_Kx4', 'q3_Kx4', 'q4_0x4', 'q4_Kx4', 'q5_Kx4', 'q6_Kp', 'q6_Kx4', 'q8_0x4', 'iq4_nlx4', 'iq4_xsx4', 'mxfp4x4', 'tq1_0x4'] as const;

/** Graph ops of the baseline build. */
const OPS = {
  // ops-norm.c
  rms_norm_f32: ['x', 'y', 'w', 'n_rows', 'n', 'eps', 'ith', 'nth'],
  norm_f32: ['x', 'y', 'w', 'b', 'n_rows', 'n', 'eps', 'ith', 'nth'],
  // ops-rope.c
  rope_f32: ['x', 'y', 'pos', 'freq_factors', 'n_tokens', 'n_head', 'head_dim', 'x_stride', 'y_stride', 'n_rot',
    'mode', 'n_ctx_orig', 'freq_base', 'freq_scale', 'ext_factor', 'attn_factor', 'beta_fast', 'beta_slow', 'ith', 'nth'],
  // ops-softmax.c
  soft_max_f32: ['x', 'y', 'mask', 'mask_f16', 'n_mask_rows', 'n_rows', 'n', 'scale', 'ith', 'nth'],
  // ops-attention.c
  attention_kv: ['q', 'k', 'v', 'out', 'pos', 'kv_rows', 'n_tokens', 'n_head', 'n_head_kv', 'head_dim', 'head_dim_v',
    'v_row', 'q_stride', 'n_ctx', 'kq_scale', 'softcap', 'n_swa', 'chunked', 'sinks', 'types', 'tile', 'wdata', 'ith', 'nth'],
  kv_store_f16: ['src', 'cache', 'pos', 'kv_rows', 'n_tokens', 'n_head_kv', 'head_dim', 'src_stride', 'n_ctx', 'ith', 'nth'],
  kv_store_q8_0: ['src', 'cache', 'pos', 'kv_rows', 'n_tokens', 'n_head_kv', 'head_dim', 'src_stride', 'n_ctx', 'ith', 'nth'],
  attention_f32: ['q', 'k', 'v', 'out', 'seq_range', 'n_tokens', 'n_head', 'n_head_kv', 'head_dim', 'q_stride',
    'k_stride', 'v_stride', 'kq_scale', 'causal', 'wdata', 'ith', 'nth'],
  // ops-unary.c
  add_f32: BINARY,
  mul_f32: BINARY,
  mul_rows_f32: ['a', 'a_stride', 'b', 'b_stride', 'y', 'n_rows', 'n', 'ith', 'nth'],
  scale_f32: ['x', 'y', 'n', 's', 'ith', 'nth'],
  silu_f32: UNARY,
  sigmoid_f32: UNARY,
  concat_f32: ['a', 'a_stride', 'na', 'b', 'b_stride', 'nb', 'y', 'n_rows', 'ith', 'nth'],
  iota_rows_i32: ['y', 'k', 'n_rows', 'ith', 'nth'],
  gelu_f32: UNARY,
  swiglu_f32: GATED,
  geglu_f32: GATED,
  swiglu_oai_f32: ['gate', 'up', 'y', 'n_rows', 'n', 'gate_stride', 'up_stride', 'alpha', 'limit', 'ith', 'nth'],
  softcap_f32: ['x', 'y', 'n', 'cap', 'ith', 'nth'],
  attn_temp_scale_f32: ['x', 'pos', 'y', 'n', 'n_rows', 'floor_scale', 'temp_scale', 'offset', 'ith', 'nth'],
  get_rows_f32: GET_ROWS,
  get_rows_f16: GET_ROWS,
  // ops-altup.c
  altup_magnitude_scale_f32: ['x', 'ref', 'y', 'n', 'n_rows', 'n_ref_rows', 'ith', 'nth'],
  gaussian_topk_f32: ['x', 'y', 'n', 'n_rows', 'std_mul', 'ith', 'nth'],
  altup_predict_f32: ['x', 'coefs', 'y', 'n', 'n_tok', 'n_altup', 'ith', 'nth'],
  altup_correct_f32: ['pred', 'act', 'coefs', 'y', 'n', 'n_tok', 'n_altup', 'i_act', 'ith', 'nth'],
  altup_add_rest_f32: ['x', 'b', 'y', 'n', 'n_tok', 'n_altup', 'ith', 'nth'],
  // ops-ssm.c
  ssm_conv_f32: ['x', 'x_stride', 'state', 'per_seq', 'kv_rows', 'w', 'y', 'n_ch', 'n_tok', 'd_conv', 'ith', 'nth'],
  l2_norm_heads_f32: ['x', 'x_stride', 'y', 'n_tok', 'n_head', 'head_dim', 'eps', 'ith', 'nth'],
  gated_delta_net_f32: ['state', 'per_seq', 'kv_rows', 'q', 'k', 'v', 'v_stride', 'b', 'a', 'ab_stride', 'grouped', 'dt_bias', 'A', 'out', 'S',
    'n_k_head', 'n_v_head', 'n_tok', 'ith', 'nth'],
  ssm_scan_f32: ['state', 'per_seq', 'kv_rows', 'xbc', 'xbc_stride', 'dt', 'dt_stride', 'dt_bias', 'A', 'D', 'y', 'd_state', 'head_dim',
    'n_head', 'n_group', 'n_tok', 'ith', 'nth'],
  // moe.c
  argsort_top_k_f32: ['x', 'ids', 'n', 'n_rows', 'k', 'ith', 'nth'],
  moe_weights_f32: ['probs', 'ids', 'w', 'n_expert', 'k', 'n_tok', 'norm', 'scale', 'ith', 'nth'],
  moe_combine_f32: ['experts', 'w', 'y', 'n', 'k', 'n_tok', 'ith', 'nth'],
  moe_weighted_rows_f32: ['x', 'w', 'y', 'n', 'k', 'n_tok', 'ith', 'nth'],
  mul_silu_gate_f32: ['x', 'g', 'y', 'n', 'n_rows', 'ith', 'nth'],
  moe_add_id_f32: ['x', 'bias', 'ids', 'y', 'n', 'k', 'n_tok', 'ith', 'nth'],
  moe_gather_rows: ['ids', 'k', 'n_tok', 'n_expert', 'x', 'x_stride', 'x_per_slot', 'n', 'vdt', 'meta', 'act',
    'act_row_bytes', 'ith', 'nth'],
  moe_scatter_rows: ['meta', 'n_expert', 'n_pairs', 'sorted', 'y', 'n', 'ith', 'nth'],
  ...family('mat_rows_id_', WEIGHT_TYPES, '', MAT_ROWS_ID),
  // imatrix.c
  imatrix_accum_f32: ['x', 'x_stride', 'sums', 'count', 'n_rows', 'n_cols', 'ith', 'nth'],
  // rows.c
  ...family('convert_rows_', ['q8_0', 'q8_1', 'q8_K', 'f16', 'bf16'], '', CONVERT_ROWS),
  ...family('mat_rows_', WEIGHT_TYPES, '', MAT_ROWS),
  ...family('get_rows_q_', ['bf16', ...LEGACY, ...KQUANTS], '', GET_ROWS_Q),
  ...family('get_rows_q_', ROWDOT, '', GET_ROWS_Q),
  ...family('get_rows_q_', IQ_GRID, '', GET_ROWS_Q),
} as const satisfies Record<string, OpParams>;

/** Kernels of the baseline build called directly. */
const HELPERS = {
  // floats.c
  convert_row_f32_to_f16: CONVERT_ROW,
  convert_row_f32_to_bf16: CONVERT_ROW,
  ...family('dequantize_row_', ['f16', 'bf16'], '', DEQUANTIZE_ROW),
  ...family('matvec_', ['f32', 'f16', 'bf16'], '', MATVEC),
  ...family('vec_dot_', ['f32_f32', 'f16_f16', 'bf16_bf16'], '', VEC_DOT),
  // legacy.c
  ...family('quantize_row_', ['q8_0', 'q8_1'], '', QUANTIZE_ROW),
  ...family('matvec_', LEGACY, '', MATVEC),
  ...family('vec_dot_', ['q4_0_q8_0', 'q4_1_q8_1', 'q5_0_q8_0', 'q5_1_q8_1', 'q8_0_q8_0'], '', VEC_DOT),
  ...family('dequantize_row_', LEGACY, '', DEQUANTIZE_ROW),
  // kquants.c, kquants-dot.c
  quantize_row_q8_K: QUANTIZE_ROW,
  ...family('dequantize_row_', [...KQUANTS, 'q8_K'], '', DEQUANTIZE_ROW),
  ...family('matvec_', KQUANTS, '', MATVEC),
  ...family('vec_dot_', KQUANTS, '_q8_K', VEC_DOT),
  // iquants.c, ternary.c (rowdot.h)
  ...family('dequantize_row_', ROWDOT, '', DEQUANTIZE_ROW),
  ...family('matvec_', ROWDOT, '', MATVEC),
  ...family('vec_dot_', ROWDOT_Q8_0, '_q8_0', VEC_DOT),
  ...family('vec_dot_', ROWDOT_Q8_K, '_q8_K', VEC_DOT),
  // iquants-grid.c
  ...family('dequantize_row_', IQ_GRID, '', DEQUANTIZE_ROW),
  ...family('matvec_', IQ_GRID, '', MATVEC),
  ...family('vec_dot_', IQ_GRID, '_q8_K', VEC_DOT),
  // the grid tables' addresses (kernels/iq-grid-tables.h), which the relaxed module imports as env.iq_grids
  iq_grids: [],
  // matmul-*.c, iquants-grid.c, rowdot.h: the batch kernels mat_rows_<t> splits over threads
  ...family('mul_mat_', WEIGHT_TYPES, '', MUL_MAT),
  // iq-search.h, iquants-quantize.c, iq1-quantize.c, iq4-quantize.c: the i-quant quantizers (runtime/quantize/wasm-quantizer.ts)
  iq_grid_search_bytes: ['grid'],
  iq_grid_search_init: ['grid', 'out'],
  ...family('quantize_rows_', IQ_GRID, '', ['x', 'y', 'n_rows', 'n_per_row', 'imatrix', 'search']),
  ...family('quantize_rows_', ['iq4_nl', 'iq4_xs'], '', ['x', 'y', 'n_rows', 'n_per_row', 'imatrix']),
  // ops-attention.c: work-buffer bytes per thread, asked for when the graph is built
  attention_kv_wsize: ['n_head', 'n_head_kv', 'head_dim', 'head_dim_v', 'tile'],
  attention_f32_wsize: ['n_kv'],
} as const satisfies Record<string, Params>;

/** emcc's runtime in the baseline build (-sEXPORTED_FUNCTIONS=_malloc,_free and what emcc adds). */
const RUNTIME = {
  malloc: ['size'],
  free: ['ptr'],
  stackSave: [],
  stackRestore: ['ptr'],
  stackAlloc: ['size'],
  _initialize: [],
  __errno_location: [],
} as const satisfies Record<string, Params>;

/**
 * The baseline kernels the relaxed-SIMD module replaces where it loads
 * (same name, same parameters: kernels/relaxed/relaxed.h RELAXED_ENTRIES and
 * RELAXED_VEC_DOT, moe-relaxed.c). The loader replaces these and no others:
 * a relaxed export of a baseline name not listed here is an error at load,
 * so an override cannot happen by accident of naming.
 */
export const RELAXED_OVERRIDES = [
  'mul_mat_q4_0', 'matvec_q4_0', 'mat_rows_q4_0', 'mat_rows_id_q4_0', 'vec_dot_q4_0_q8_0',
  'mul_mat_q2_K', 'matvec_q2_K', 'mat_rows_q2_K', 'mat_rows_id_q2_K', 'vec_dot_q2_K_q8_K',
  'mul_mat_q3_K', 'matvec_q3_K', 'mat_rows_q3_K', 'mat_rows_id_q3_K', 'vec_dot_q3_K_q8_K',
  'mul_mat_q4_K', 'matvec_q4_K', 'mat_rows_q4_K', 'mat_rows_id_q4_K', 'vec_dot_q4_K_q8_K',
  'mul_mat_q5_K', 'matvec_q5_K', 'mat_rows_q5_K', 'mat_rows_id_q5_K', 'vec_dot_q5_K_q8_K',
  'mul_mat_q6_K', 'matvec_q6_K', 'mat_rows_q6_K', 'mat_rows_id_q6_K', 'vec_dot_q6_K_q8_K',
  'mul_mat_q8_0', 'matvec_q8_0', 'mat_rows_q8_0', 'mat_rows_id_q8_0', 'vec_dot_q8_0_q8_0',
  'mul_mat_iq4_nl', 'matvec_iq4_nl', 'mat_rows_iq4_nl', 'mat_rows_id_iq4_nl', 'vec_dot_iq4_nl_q8_0',
  'mul_mat_mxfp4', 'matvec_mxfp4', 'mat_rows_mxfp4', 'mat_rows_id_mxfp4', 'vec_dot_mxfp4_q8_0',
  'mul_mat_iq4_xs', 'matvec_iq4_xs', 'mat_rows_iq4_xs', 'mat_rows_id_iq4_xs', 'vec_dot_iq4_xs_q8_K',
  // relaxed/ternary-relaxed.c
  'mul_mat_tq1_0', 'matvec_tq1_0', 'mat_rows_tq1_0', 'mat_rows_id_tq1_0', 'vec_dot_tq1_0_q8_K',
  'mul_mat_tq2_0', 'matvec_tq2_0', 'mat_rows_tq2_0', 'mat_rows_id_tq2_0', 'vec_dot_tq2_0_q8_K',
  // relaxed/iq-grid-relaxed.c, over the baseline module's grid tables
  'mul_mat_iq2_xxs', 'matvec_iq2_xxs', 'mat_rows_iq2_xxs', 'mat_rows_id_iq2_xxs', 'vec_dot_iq2_xxs_q8_K',
  'mul_mat_iq2_xs', 'matvec_iq2_xs', 'mat_rows_iq2_xs', 'mat_rows_id_iq2_xs', 'vec_dot_iq2_xs_q8_K',
  'mul_mat_iq2_s', 'matvec_iq2_s', 'mat_rows_iq2_s', 'mat_rows_id_iq2_s', 'vec_dot_iq2_s_q8_K',
  'mul_mat_iq3_xxs', 'matvec_iq3_xxs', 'mat_rows_iq3_xxs', 'mat_rows_id_iq3_xxs', 'vec_dot_iq3_xxs_q8_K',
  'mul_mat_iq3_s', 'matvec_iq3_s', 'mat_rows_iq3_s', 'mat_rows_id_iq3_s', 'vec_dot_iq3_s_q8_K',
  'mul_mat_iq1_s', 'matvec_iq1_s', 'mat_rows_iq1_s', 'mat_rows_id_iq1_s', 'vec_dot_iq1_s_q8_K',
  'mul_mat_iq1_m', 'matvec_iq1_m', 'mat_rows_iq1_m', 'mat_rows_id_iq1_m', 'vec_dot_iq1_m_q8_K',
] as const satisfies readonly (keyof typeof OPS | keyof typeof HELPERS)[];

/** Graph ops only the relaxed module has: the repacked layouts' matmuls. */
const RELAXED_OPS = {
  ...family('mat_rows_', RELAXED_LAYOUTS, '', MAT_ROWS),
  ...family('mat_rows_id_', RELAXED_LAYOUTS, '', MAT_ROWS_ID),
} as const satisfies Record<string, OpParams>;

/** Helpers only the relaxed module has: the layouts' one-token and batch kernels, and the in-place repacks. */
const RELAXED_HELPERS = {
  ...family('matvec_', RELAXED_LAYOUTS, '', MATVEC),
  ...family('mul_mat_', RELAXED_LAYOUTS, '', MUL_MAT),
  ...family('repack_', RELAXED_LAYOUTS, '', REPACK),
} as const satisfies Record<string, Params>;

const BASELINE_TABLE = { ...OPS, ...HELPERS, ...RUNTIME };
const RELAXED_ONLY_TABLE = { ...RELAXED_OPS, ...RELAXED_HELPERS };
const ALL_TABLE = { ...BASELINE_TABLE, ...RELAXED_ONLY_TABLE };

/** A function every baseline build exports. */
export type BaselineKernelName = keyof typeof BASELINE_TABLE;
/** A function only the relaxed module exports (present when kernels.simd is 'relaxed'). */
export type RelaxedOnlyKernelName = keyof typeof RELAXED_ONLY_TABLE;
export type KernelName = BaselineKernelName | RelaxedOnlyKernelName;
/** A kernel's parameter names, as a tuple type. */
export type KernelParams<K extends KernelName> = (typeof ALL_TABLE)[K];
/** One number per parameter of kernel K (ith and nth included for ops). */
export type KernelArgs<K extends KernelName> = NumbersFor<KernelParams<K>>;
type NumbersFor<P extends Params> = { -readonly [I in keyof P]: number };

export interface KernelSpec {
  readonly name: string;
  readonly kind: KernelKind;
  /** Parameter names in order, as kernels/ names them (ops end with ith, nth). */
  readonly params: readonly string[];
  /** 'baseline': in kernels.wasm (and, when listed in RELAXED_OVERRIDES, replaced by the relaxed module's); 'relaxed': only in kernels-relaxed.wasm. */
  readonly module: 'baseline' | 'relaxed';
}

function specs(table: Record<string, Params>, kind: KernelKind, module: KernelSpec['module']): KernelSpec[] {
  return Object.entries(table).map(([name, params]) => Object.freeze({ name, kind, params, module }));
}

/** The table: every exported function of both modules, by name. */
export const KERNEL_TABLE: ReadonlyMap<string, KernelSpec> = new Map([
  ...specs(OPS, 'op', 'baseline'),
  ...specs(HELPERS, 'helper', 'baseline'),
  ...specs(RUNTIME, 'runtime', 'baseline'),
  ...specs(RELAXED_OPS, 'op', 'relaxed'),
  ...specs(RELAXED_HELPERS, 'helper', 'relaxed'),
].map((s) => [s.name, s]));

/** The functions wasm/kernels-relaxed.wasm exports: the overrides, then its own. */
export const RELAXED_EXPORTS: readonly string[] = [...RELAXED_OVERRIDES, ...Object.keys(RELAXED_ONLY_TABLE)];

/** A kernel's entry, or undefined for a name neither module exports (e.g. a weight type with no kernels). */
export function kernelSpec(name: string): KernelSpec | undefined {
  return KERNEL_TABLE.get(name);
}

const paramList = (s: KernelSpec) => `${s.params.length} (${s.params.join(', ')})`;

/** One way a build differs from the table: expected null, an export the table lacks; actual null, a missing export. */
export interface KernelMismatch {
  readonly kernel: string;
  readonly expected: number | null;
  readonly actual: number | null;
}

/** A built module does not export what the table says (stale build, or a kernel changed without its entry). */
export class KernelTableError extends Error {
  constructor(readonly file: string, readonly mismatches: readonly KernelMismatch[], detail: string) {
    super(detail);
    this.name = 'KernelTableError';
  }
}

/**
 * Checks one instance's exports against the table: every function `which`
 * should export is there with the table's parameter count, and it exports no
 * function the table does not list for it. `file` names the module in the
 * message. Non-function exports (the stack pointer global, the function
 * table) are linkage, not kernels, and are not checked here.
 */
export function checkExports(exports: Readonly<Record<string, unknown>>, which: 'baseline' | 'relaxed', file: string): void {
  const expected = which === 'baseline'
    ? [...KERNEL_TABLE.values()].filter((s) => s.module === 'baseline')
    : RELAXED_EXPORTS.map((name) => KERNEL_TABLE.get(name)!);
  const expectedNames = new Set(expected.map((s) => s.name));
  const mismatches: KernelMismatch[] = [];
  const lines: string[] = [];
  for (const s of expected) {
    const f = exports[s.name];
    if (typeof f !== 'function') {
      mismatches.push({ kernel: s.name, expected: s.params.length, actual: null });
      lines.push(`${s.name} is missing (the table expects parameters ${paramList(s)})`);
    } else if (f.length !== s.params.length) {
      mismatches.push({ kernel: s.name, expected: s.params.length, actual: f.length });
      lines.push(`${s.name} takes ${f.length} parameters, the table expects ${paramList(s)}`);
    }
  }
  for (const [name, f] of Object.entries(exports)) {
    if (typeof f !== 'function' || expectedNames.has(name)) continue;
    mismatches.push({ kernel: name, expected: null, actual: f.length });
    const spec = KERNEL_TABLE.get(name);
    lines.push(which === 'relaxed' && spec?.module === 'baseline'
      ? `${name} (${f.length} parameters) would replace the baseline kernel, which RELAXED_OVERRIDES does not list`
      : `${name} (${f.length} parameters) is exported but not listed${spec ? ` for the ${which} module` : ''}`);
  }
  if (mismatches.length === 0) return;
  throw new KernelTableError(file, mismatches,
    `loadKernels: ${file} does not match wasm/kernel-table.ts: ${lines.join('; ')}. ` +
    'Rebuild it with npm run build:wasm; if kernels/ changed, update the table to match.');
}

/** A graph phase whose arguments do not fit its kernel. */
export class KernelArgsError extends RangeError {
  constructor(readonly op: string, readonly kernel: string, readonly expected: readonly string[] | null, readonly got: number, detail: string) {
    super(detail);
    this.name = 'KernelArgsError';
  }
}

/**
 * Checks one phase of op `op` before anything runs it: `fn` is an op
 * kernel (one that takes ith, nth last) and `nArgs` arguments plus ith and
 * nth are exactly its parameters. A short phase would otherwise run with 0
 * for what it left out, and a long one would silently drop the extra.
 */
export function checkPhaseArgs(op: string, fn: string, nArgs: number): void {
  const s = KERNEL_TABLE.get(fn);
  if (!s) throw new KernelArgsError(op, fn, null, nArgs, `${op}: no kernel ${fn} in wasm/kernel-table.ts`);
  if (s.kind !== 'op') {
    throw new KernelArgsError(op, fn, s.params, nArgs,
      `${op}: ${fn} is a ${s.kind} kernel (${s.params.join(', ')}), not a graph op taking ith, nth`);
  }
  if (nArgs + 2 !== s.params.length) {
    throw new KernelArgsError(op, fn, s.params, nArgs,
      `${op}: ${fn} takes ${paramList(s)}; the phase gives ${nArgs} arguments + ith, nth = ${nArgs + 2}`);
  }
}
