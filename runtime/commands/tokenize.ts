// run-gguf tokenize <model> (-p TEXT | -f FILE) [--ids] [--no-special]:
// prints tokens as llama.cpp's llama-tokenize does. Reads only the header.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { readGGUF } from '../../formats/gguf/index.js';
import { Tokenizer } from '../tokenizer/index.js';
import { modelArgument } from './pull.js';

export const tokenizeUsage = `Usage: run-gguf tokenize <model.gguf> (-p TEXT | -f FILE) [--ids] [--no-special]

Prints the tokens of TEXT: one "id -> 'piece'" line each, or with --ids the
list of ids as llama-tokenize --ids prints it: [1, 15043, 3186].

Options:
  -p, --prompt TEXT   text to tokenize
  -f, --file FILE     read the text from FILE
      --ids           print only the list of ids
      --no-special    add no BOS/EOS
      --parse-special parse special tokens written in the text
  -h, --help          this text`;

export async function runTokenize(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      prompt: { type: 'string', short: 'p' },
      file: { type: 'string', short: 'f' },
      ids: { type: 'boolean' },
      'no-special': { type: 'boolean' },
      'parse-special': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(tokenizeUsage);
    return 0;
  }
  const path = positionals[0];
  if (!path || (values.prompt === undefined) === (values.file === undefined)) {
    console.error(tokenizeUsage);
    return 2;
  }
  const text = values.prompt ?? (await readFile(values.file!, 'utf8'));
  const gguf = await readGGUF(await modelArgument(path));
  const tok = Tokenizer.fromMetadata((k: string) => gguf.metadata.get(k));
  const ids = tok.tokenize(text, { addSpecial: !values['no-special'], special: values['parse-special'] ?? false });
  if (values.ids) {
    console.log(`[${ids.join(', ')}]`);
  } else {
    for (const id of ids) console.log(`${String(id).padStart(6)} -> '${tok.tokenToPiece(id)}'`);
  }
  return 0;
}
