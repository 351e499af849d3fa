// The hyper-parameters `run-gguf info` shows, named and defaulted as
// llama.cpp's print_info shows them, read generically from the
// `<general.architecture>.*` keys so that every architecture (supported here
// or not) gets the same listing.
import type { GGUFValue } from '../../formats/index.js';
import { supportedArchitectures } from '../arch/index.js';
import { MAX_LAYERS } from '../hparams.js';

/** A number, a per-layer list of numbers, or a name. */
export type HParamValue = number | number[] | string;

/** How print_info formats a value: %u, %.1e, %.1f, %g, %f, %s. */
type Format = 'int' | 'e1' | 'f1' | 'g' | 'f6' | 'str';

export interface HParamRow {
  /** print_info's name ("n_embd", "causal attn"). */
  name: string;
  value: HParamValue;
  format: Format;
}

export interface ArchitectureInfo {
  /** general.architecture, or null when the file has none. */
  name: string | null;
  supported: boolean;
  supportedList: string[];
  /** Absent when the file holds no model hyper-parameters (vocab-only files). */
  hparams?: HParamRow[];
}

function num(v: GGUFValue | undefined): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  return undefined;
}

/**
 * A key that may be one value or one per layer (llama.cpp's get_key_or_arr).
 * nLayer comes from the file: only a count llama.cpp would load (1..512)
 * sizes a list; any other (0, -1, 1e9) gives one value, never an array of that length.
 */
function perLayer(v: GGUFValue | undefined, nLayer: number, dflt: number): number[] {
  const n = Number.isInteger(nLayer) && nLayer >= 1 && nLayer <= MAX_LAYERS ? nLayer : 1;
  if (v !== undefined && typeof v === 'object' && 'length' in v && typeof v !== 'string') {
    const arr = v as ArrayLike<unknown>;
    return Array.from({ length: n }, (_, i) => (i < arr.length ? num(arr[i] as GGUFValue) : undefined) ?? dflt);
  }
  return Array<number>(n).fill(num(v) ?? dflt);
}

/** print_info's per-layer values: one number when every layer has it, else the list. */
function collapse(xs: number[]): number | number[] {
  return xs.length > 0 && xs.every((x) => x === xs[0]) ? xs[0]! : xs;
}

export function architectureInfo(meta: ReadonlyMap<string, GGUFValue>): ArchitectureInfo {
  const arch = meta.get('general.architecture');
  const supportedList = supportedArchitectures();
  if (typeof arch !== 'string') return { name: null, supported: false, supportedList };
  const info: ArchitectureInfo = { name: arch, supported: supportedList.includes(arch), supportedList };
  const get = (k: string) => meta.get(`${arch}.${k}`);
  const opt = (k: string, d: number) => num(get(k)) ?? d;
  const nEmbd = num(get('embedding_length'));
  const nLayer = num(get('block_count'));
  if (nEmbd === undefined || nLayer === undefined) return info;

  const nHead = perLayer(get('attention.head_count'), nLayer, 0);
  const nHeadKv = get('attention.head_count_kv') === undefined ? nHead : perLayer(get('attention.head_count_kv'), nLayer, 0);
  const head0 = nHead[0] ?? 0;
  const headK = opt('attention.key_length', head0 ? nEmbd / head0 : 0);
  const headV = opt('attention.value_length', head0 ? nEmbd / head0 : 0);
  const nCtxTrain = opt('context_length', 0);
  const scaling = get('rope.scaling.type');
  const factor = opt('rope.scaling.factor', opt('rope.scale_linear', 0));
  const rows: HParamRow[] = [];
  const row = (name: string, value: HParamValue, format: Format = 'int') => rows.push({ name, value, format });
  row('n_ctx_train', nCtxTrain);
  row('n_embd', nEmbd);
  row('n_layer', nLayer);
  row('n_head', collapse(nHead));
  row('n_head_kv', collapse(nHeadKv));
  row('n_rot', opt('rope.dimension_count', headK));
  row('n_swa', opt('attention.sliding_window', 0));
  row('n_embd_head_k', headK);
  row('n_embd_head_v', headV);
  row('n_gqa', collapse(nHead.map((h, i) => (nHeadKv[i] ? h / nHeadKv[i]! : 0))));
  row('n_embd_k_gqa', collapse(nHeadKv.map((h) => h * headK)));
  row('n_embd_v_gqa', collapse(nHeadKv.map((h) => h * headV)));
  row('f_norm_eps', opt('attention.layer_norm_epsilon', 0), 'e1');
  row('f_norm_rms_eps', opt('attention.layer_norm_rms_epsilon', 0), 'e1');
  row('f_clamp_kqv', opt('attention.clamp_kqv', 0), 'e1');
  row('f_max_alibi_bias', opt('attention.max_alibi_bias', 0), 'e1');
  row('f_logit_scale', opt('logit_scale', 0), 'e1');
  row('f_attn_scale', opt('attention.scale', 0), 'e1');
  row('n_ff', collapse(perLayer(get('feed_forward_length'), nLayer, 0)));
  row('n_expert', opt('expert_count', 0));
  row('n_expert_used', collapse(perLayer(get('expert_used_count'), 1, 0)));
  row('causal attn', opt('attention.causal', 1));
  row('pooling type', opt('pooling_type', -1));
  row('rope scaling', typeof scaling === 'string' ? scaling : 'linear', 'str');
  row('freq_base_train', opt('rope.freq_base', 10000), 'f1');
  row('freq_scale_train', factor ? 1 / factor : 1, 'g');
  row('n_ctx_orig_yarn', opt('rope.scaling.original_context_length', nCtxTrain));
  row('rope_finetuned', opt('rope.scaling.finetuned', 0) ? 'yes' : 'unknown', 'str');
  // family-specific ones, shown when the file sets them
  const extras: [string, string, Format][] = [
    ['n_ff_exp', 'expert_feed_forward_length', 'int'],
    ['n_ff_shexp', 'expert_shared_feed_forward_length', 'int'],
    ['n_expert_shared', 'expert_shared_count', 'int'],
    ['n_layer_dense_lead', 'leading_dense_block_count', 'int'],
    ['expert_weights_scale', 'expert_weights_scale', 'f1'],
    ['expert_weights_norm', 'expert_weights_norm', 'int'],
    ['expert_gating_func', 'expert_gating_func', 'int'],
    ['f_embedding_scale', 'embedding_scale', 'f6'],
    ['f_residual_scale', 'residual_scale', 'f6'],
    ['f_attn_logit_softcapping', 'attn_logit_softcapping', 'f6'],
    ['f_final_logit_softcapping', 'final_logit_softcapping', 'f6'],
  ];
  for (const [name, key, format] of extras) {
    if (get(key) !== undefined) row(name, collapse(perLayer(get(key), key.endsWith('_length') ? nLayer : 1, 0)), format);
  }
  info.hparams = rows;
  return info;
}

/** printf's %.1e: one decimal, exponent of at least two digits (1.0e-05). */
function exp1(x: number): string {
  return x.toExponential(1).replace(/e([+-])(\d)$/, 'e$10$2');
}

function formatOne(x: number, f: Format): string {
  switch (f) {
    case 'e1': return exp1(x);
    case 'f1': return x.toFixed(1);
    case 'f6': return x.toFixed(6);
    case 'g': return String(Number(x.toPrecision(6)));
    default: return String(x);
  }
}

/** A row's value as print_info prints it. */
export function formatHParam(r: HParamRow): string {
  if (typeof r.value === 'string') return r.value;
  if (Array.isArray(r.value)) return `[${r.value.map((x) => formatOne(x, r.format)).join(', ')}]`;
  return formatOne(r.value, r.format);
}

/** The text lines of the architecture section. */
export function architectureText(a: ArchitectureInfo): string[] {
  if (a.name === null) return ['architecture: (none: no general.architecture)'];
  const out = [a.supported
    ? `architecture: ${a.name}`
    : `architecture: ${a.name} (not supported by run-gguf; supported: ${a.supportedList.join(', ')})`];
  if (a.hparams) {
    out.push('', 'hyper-parameters (as llama.cpp\'s print_info names them):');
    for (const r of a.hparams) out.push(`  ${r.name.padEnd(22)}= ${formatHParam(r)}`);
  }
  return out;
}

/** The `--json` form: names with spaces get underscores. */
export function architectureJSON(a: ArchitectureInfo): Record<string, unknown> {
  return {
    name: a.name,
    supported: a.supported,
    ...(a.supported ? {} : { supported_architectures: a.supportedList }),
    ...(a.hparams ? { hparams: Object.fromEntries(a.hparams.map((r) => [r.name.replace(/ /g, '_'), r.value])) } : {}),
  };
}
