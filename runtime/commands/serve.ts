// run-gguf serve <model.gguf>: the OpenAI-compatible server (runtime/server)
// on 127.0.0.1:8080 until SIGINT or SIGTERM.
import { parseArgs } from 'node:util';
import { loadModel } from '../model.js';
import { createServer } from '../server/index.js';
import { positiveInt } from './args.js';
import { modelArgument } from './pull.js';

export const serveUsage = `Usage: run-gguf serve <model.gguf> [options]

Serves the OpenAI API (/v1/chat/completions, /v1/completions, /v1/embeddings,
/v1/models), llama-server's /v1/rerank (reranker models), /health, /metrics
(Prometheus) and a chat page at /.

Options:
      --host HOST          address to bind (default 127.0.0.1; 0.0.0.0 for every interface)
      --port N             port (default 8080)
  -c, --ctx-size N         KV cells of all slots together, as llama-server's -c: each slot
                           gets N / slots (default: min(4096, the model's) per slot)
  -np, --parallel N        slots: requests served at once, the others queue (default 1)
      --api-key KEY        require "Authorization: Bearer KEY" on every route but /health and /
                           (default: the RUN_GGUF_API_KEY environment variable, else none)
      --alias NAME         the model's id in the API (default: the file name)
      --chat-template T    a built-in template name, "completion", or Jinja text
  -b, --batch-size N       prompt tokens per graph run (default 512)
  -t, --threads N          threads (default: all cores)
  -h, --help               this text`;

export async function runServe(args: string[]): Promise<number> {
  // llama-server's -np is two letters, which parseArgs' short options are not
  const argv = args.map((a) => (a === '-np' ? '--parallel' : a));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'ctx-size': { type: 'string', short: 'c' },
      parallel: { type: 'string' },
      'api-key': { type: 'string' },
      alias: { type: 'string' },
      'chat-template': { type: 'string' },
      'batch-size': { type: 'string', short: 'b' },
      threads: { type: 'string', short: 't' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(serveUsage);
    return 0;
  }
  const path = positionals[0];
  if (!path) {
    console.error(serveUsage);
    return 2;
  }
  const port = values.port === undefined ? 8080 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`--port: expected 0..65535, got "${values.port}"`);
  const slots = positiveInt('--parallel', values.parallel, 1);
  const contextSize = positiveInt('--ctx-size', values['ctx-size']);
  const model = await loadModel(await modelArgument(path), { contextSize, onWarning: (w) => console.error(`warning: ${w}`) });
  const server = await createServer(model, {
    slots, contextSize, apiKey: values['api-key'] ?? (process.env.RUN_GGUF_API_KEY || undefined), modelId: values.alias,
    chatTemplate: values['chat-template'], batchSize: positiveInt('--batch-size', values['batch-size']),
    threads: positiveInt('--threads', values.threads),
  }).catch((err) => {
    model.dispose();
    throw err;
  });
  const { url } = await server.listen(port, values.host ?? '127.0.0.1');
  const what = server.template ? `${slots} slot${slots > 1 ? 's' : ''} of ${server.slotContextSize} tokens, chat template ${server.template.name}` : 'embeddings';
  console.error(`run-gguf serve: ${path} on ${url} (${what})`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  console.error('run-gguf serve: stopping');
  await server.close();
  model.dispose();
  return 0;
}
