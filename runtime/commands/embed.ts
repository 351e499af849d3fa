// run-gguf embed <model> -p TEXT [-p TEXT...]: text embeddings of an encoder
// model (bert, nomic-bert), printed as llama.cpp's llama-embedding prints
// them: the first and last values of each vector and, for several texts,
// their cosine similarities; or every value as JSON.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parsePooling, POOLING_TYPES } from '../embed.js';
import { loadModel } from '../model.js';
import { positiveInt } from './args.js';
import { modelArgument } from './pull.js';

export const embedUsage = `Usage: run-gguf embed <model.gguf> -p TEXT [-p TEXT...] [options]

Prints the embedding of each TEXT ([CLS] TEXT [SEP] for BERT vocabularies),
pooled as the model's pooling_type says and L2-normalised: the first and last
three values of each vector and, for several texts, the cosine similarity
matrix. With --json, every value, as llama-embedding --embd-output-format json
prints them ({"object": "list", "data": [{"object": "embedding", "index": 0,
"embedding": [...]}, ...]}).

Options:
  -p, --prompt TEXT     a text to embed (repeat for several)
  -f, --file FILE       embed each non-empty line of FILE
      --pooling P       ${POOLING_TYPES.join(', ')} (default: the model's; none gives one vector per token)
      --no-normalize    do not divide each vector by its L2 norm
      --json            print every value as JSON
  -b, --batch-size N    tokens per batch, the longest text allowed (default 512)
  -t, --threads N       threads (default: all cores)
  -h, --help            this text`;


const fmt = (x: number) => x.toFixed(6).padStart(9);

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

export async function runEmbed(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      prompt: { type: 'string', short: 'p', multiple: true },
      file: { type: 'string', short: 'f' },
      pooling: { type: 'string' },
      'no-normalize': { type: 'boolean' },
      json: { type: 'boolean' },
      'batch-size': { type: 'string', short: 'b' },
      threads: { type: 'string', short: 't' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(embedUsage);
    return 0;
  }
  const path = positionals[0];
  const texts = [...(values.prompt ?? [])];
  if (values.file !== undefined) texts.push(...(await readFile(values.file, 'utf8')).split(/\r?\n/).filter((l) => l.trim() !== ''));
  if (!path || texts.length === 0) {
    console.error(embedUsage);
    return 2;
  }
  const pooling = values.pooling === undefined ? undefined : parsePooling(values.pooling);
  const batchSize = positiveInt('--batch-size', values['batch-size']);
  const threads = positiveInt('--threads', values.threads);

  const model = await loadModel(await modelArgument(path));
  let vectors: Float32Array[];
  try {
    vectors = model.embed(texts, { pooling, normalize: !values['no-normalize'], batchSize, threads });
  } finally {
    model.dispose();
  }

  if (values.json) {
    const data = vectors.map((v, index) => ({ object: 'embedding', index, embedding: [...v] }));
    const out: Record<string, unknown> = { object: 'list', data };
    if (vectors.length > 1) out.cosineSimilarity = vectors.map((a) => vectors.map((b) => cosine(a, b)));
    console.log(JSON.stringify(out));
    return 0;
  }
  vectors.forEach((v, i) => {
    const head = [...v.subarray(0, 3)].map(fmt).join(' ');
    const tail = v.length > 6 ? ` ... ${[...v.subarray(v.length - 3)].map(fmt).join(' ')}` : ` ${[...v.subarray(3)].map(fmt).join(' ')}`;
    console.log(`embedding ${i}: ${head}${tail}  (${v.length} values)`);
  });
  if (vectors.length > 1) {
    console.log('\ncosine similarity matrix:\n');
    console.log(texts.map((t) => t.slice(0, 6).padEnd(6)).join(' '));
    vectors.forEach((a, i) => console.log(`${vectors.map((b) => cosine(a, b).toFixed(2).padStart(6)).join(' ')} ${texts[i]!.slice(0, 10)}`));
  }
  return 0;
}
