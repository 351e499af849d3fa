// The model column of a benchmark: llama.cpp's llama_model_desc, "<arch>
// <size class> <file type>" ("llama 1B Q4_K - Medium").

export interface ModelDescInput {
  arch: string;
  n_layer: number;
  n_head: number;
  n_head_kv: number;
  n_vocab: number;
  nParams: number;
  /** llama.cpp's file type name ("Q4_K - Medium", "(guessed) F16"). */
  fileTypeName: string;
}

/**
 * llama.cpp's size class for a dense Llama, which it reads off the layer
 * count (llama_model::load_hparams); undefined where it has no entry and
 * prints "?B".
 */
export function llamaCppSizeClass(m: Pick<ModelDescInput, 'arch' | 'n_layer' | 'n_head' | 'n_head_kv' | 'n_vocab'>): string | undefined {
  if (m.arch !== 'llama') return undefined;
  switch (m.n_layer) {
    case 16: case 22: return '1B';
    case 26: case 28: return '3B';
    case 30: return '256M';
    case 32: return m.n_vocab === 49152 ? '3B' : m.n_vocab < 40000 ? '7B' : '8B';
    case 36: return '8B';
    case 40: return '13B';
    case 48: return '34B';
    case 60: return '30B';
    case 80: return m.n_head === m.n_head_kv ? '65B' : '70B';
    default: return undefined;
  }
}

/** A size class from the parameter count, two significant digits: "160M", "1.1B", "0.9M". */
export function sizeClassFromParams(n: number): string {
  const [scaled, unit] = n >= 1e9 ? [n / 1e9, 'B'] : [n / 1e6, 'M'];
  return `${Number(scaled.toPrecision(2))}${unit}`;
}

/**
 * "llama 1B Q4_K - Medium". The size class is llama.cpp's where it knows the
 * shape, so rows line up with llama-bench's; elsewhere, where llama.cpp
 * would print "?B", it comes from the parameter count.
 */
export function modelDesc(m: ModelDescInput): string {
  return `${m.arch} ${llamaCppSizeClass(m) ?? sizeClassFromParams(m.nParams)} ${m.fileTypeName}`;
}
