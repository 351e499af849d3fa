// The run-gguf subcommands. Adding one is one line here: its name, a summary,
// and a lazy import of its run function (runtime/commands/<name>.ts).
import type { Command } from './command.js';

export type { Command } from './command.js';

export const COMMANDS: readonly Command[] = [
  { name: 'info', summary: 'show a GGUF file: metadata, tensors, parameters, file type', run: async (a) => (await import('./info.js')).runInfo(a) },
  { name: 'complete', summary: 'stream a raw completion of a prompt', run: async (a) => (await import('./complete.js')).runComplete(a) },
  { name: 'chat', summary: 'chat with a model (also: run-gguf <model.gguf>)', run: async (a) => (await import('./chat.js')).runChat(a) },
  { name: 'pull', summary: 'download a model by name (hf:user/repo:Q4_K_M, user/repo:QUANT, an https URL) into the cache', run: async (a) => (await import('./pull.js')).runPull(a) },
  { name: 'models', summary: 'list the GGUF files on this machine (cwd, ~/models, llama.cpp, Hugging Face, LM Studio)', run: async (a) => (await import('./pick.js')).runModels(a) },
  { name: 'tokenize', summary: 'print the tokens of a text as llama-tokenize does', run: async (a) => (await import('./tokenize.js')).runTokenize(a) },
  { name: 'embed', summary: 'text embeddings of an encoder model (bert, nomic-bert), as llama-embedding prints them', run: async (a) => (await import('./embed.js')).runEmbed(a) },
  { name: 'rerank', summary: 'score documents against a query with a reranker (bge-reranker, Qwen3-Reranker)', run: async (a) => (await import('./rerank.js')).runRerank(a) },
  { name: 'quantize', summary: 'quantize a model to Q4_K_M, Q8_0... as llama-quantize does', run: async (a) => (await import('./quantize.js')).runQuantize(a) },
  { name: 'imatrix', summary: 'importance matrix of a model over a calibration text, as llama-imatrix computes it', run: async (a) => (await import('./imatrix.js')).runIMatrix(a) },
  { name: 'perplexity', summary: 'perplexity of a model over a text file, as llama-perplexity computes it', run: async (a) => (await import('./perplexity.js')).runPerplexity(a) },
  { name: 'serve', summary: 'an OpenAI-compatible HTTP server (chat, completions, embeddings) with slots, as llama-server', run: async (a) => (await import('./serve.js')).runServe(a) },
  { name: 'bench', summary: 'measure prompt and generation speed as llama-bench does', run: async (a) => (await import('./bench.js')).runBench(a) },
];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}
