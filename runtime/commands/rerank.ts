// run-gguf rerank <model> --query Q DOC...: scores each document's relevance
// to the query with a reranker model (model.rank, runtime/rank.ts) and prints
// them highest first, as llama-server's /rerank and node-llama-cpp's
// rankAndSort order them; or as JSON.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadModel } from '../model.js';
import { positiveInt } from './args.js';
import { modelArgument } from './pull.js';

export const rerankUsage = `Usage: run-gguf rerank <model.gguf> -q QUERY [DOC...] [options]

Scores how relevant each document is to the query with a reranker model
(bge-reranker, Qwen3-Reranker: a GGUF with a classifier head), as
node-llama-cpp's ranking context does: a score from 0 to 1 (the sigmoid of the
classifier's output; Qwen3-Reranker's softmax of "yes" against "no"). The
pair is the model's rerank template (tokenizer.chat_template.rerank) with the
query and document filled in, else BOS query EOS SEP document EOS.
Documents are the arguments after the model, and each non-empty line of
--file (- reads standard input). Prints one line per document, highest score
first: rank, score, the document's index (its place in the input) and text.

Options:
  -q, --query TEXT      the query (required)
  -f, --file FILE       a document per non-empty line of FILE (- for stdin)
      --top-n N         print only the N best
      --template T      the pair's text with {query} and {document} (default: the model's)
      --json            {"query": ..., "results": [{"index", "score", "document"}, ...]}, highest first
  -b, --batch-size N    tokens per batch, the longest pair allowed (default 512)
  -c, --ctx-size N      decoder rerankers: the context, the longest pair (default min(4096, training context))
  -t, --threads N       threads (default: all cores)
  -h, --help            this text`;

async function readLines(file: string): Promise<string[]> {
  let text: string;
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    text = Buffer.concat(chunks).toString('utf8');
  } else {
    text = await readFile(file, 'utf8');
  }
  return text.split(/\r?\n/).filter((l) => l.trim() !== '');
}

export async function runRerank(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      query: { type: 'string', short: 'q' },
      file: { type: 'string', short: 'f' },
      'top-n': { type: 'string' },
      template: { type: 'string' },
      json: { type: 'boolean' },
      'batch-size': { type: 'string', short: 'b' },
      'ctx-size': { type: 'string', short: 'c' },
      threads: { type: 'string', short: 't' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(rerankUsage);
    return 0;
  }
  const [path, ...documents] = positionals;
  if (values.file !== undefined) documents.push(...(await readLines(values.file)));
  if (!path || values.query === undefined || documents.length === 0) {
    console.error(rerankUsage);
    return 2;
  }
  const topN = positiveInt('--top-n', values['top-n']);
  const batchSize = positiveInt('--batch-size', values['batch-size']);
  const contextSize = positiveInt('--ctx-size', values['ctx-size']);
  const threads = positiveInt('--threads', values.threads);

  const model = await loadModel(await modelArgument(path));
  let ranked;
  try {
    ranked = model.rankAndSort(values.query, documents, { template: values.template, batchSize, contextSize, threads });
  } finally {
    model.dispose();
  }
  if (topN !== undefined) ranked = ranked.slice(0, topN);

  if (values.json) {
    console.log(JSON.stringify({ query: values.query, results: ranked.map(({ index, score, document }) => ({ index, score, document })) }));
    return 0;
  }
  const width = String(documents.length).length;
  ranked.forEach((r, i) => {
    const text = r.document.replace(/\s+/g, ' ');
    console.log(`${String(i + 1).padStart(width)}  ${r.score.toFixed(6)}  [${String(r.index).padStart(width)}]  ${text.length > 100 ? `${text.slice(0, 97)}...` : text}`);
  });
  return 0;
}
