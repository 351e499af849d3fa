// The shape every scalar reference codec has. These are the executable spec
// of each block layout: slow, plain, and the oracle the WASM kernels are
// tested against.

export interface BlockCodec {
  /**
   * Quantize `src` (length a multiple of the block size) into `dst`
   * (exactly rowSize(type, src.length) bytes), following ggml's reference
   * quantizer (quantize_row_*_ref) bit for bit.
   */
  quantize(src: Float32Array, dst: Uint8Array): void;
  /** Expand `n = dst.length` elements from `src` blocks (dequantize_row_*). */
  dequantize(src: Uint8Array, dst: Float32Array): void;
}
