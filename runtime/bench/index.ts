// Throughput benchmarks with llama-bench's method and output formats, for
// `run-gguf bench` and for programs (bench/compare.ts).
export {
  BENCH_DEFAULTS, benchParams, defaultThreads, parseIntList, testInstances, testName,
  type BenchParams, type TestInstance,
} from './params.js';
export { benchFile, benchModel, benchModelInfo, largestContext, rfc3339, TestRunner, type BenchHooks, type BenchModelInfo, type BenchResult } from './run.js';
export {
  BENCH_FIELDS, buildInfo, createPrinter, fieldValues, formatParams, formatResults, formatSize, formatTs, markdownRow, markdownSeparator, mean, median,
  OUTPUT_FORMATS, samplesTs, stdev, type BuildInfo, type OutputFormat, type Printer, type PrinterOptions,
} from './format.js';
export { llamaCppSizeClass, modelDesc, sizeClassFromParams, type ModelDescInput } from './model-type.js';
