// run-gguf/formats: GGUF read/write, the ggml type table, and the scalar
// reference quantizers. Nothing here depends on runtime/.
export * from './gguf/index.js';
export * from './ggml-types.js';
export { quantizeRow, dequantizeRow } from './quant/index.js';
export * from './grammar/index.js';
