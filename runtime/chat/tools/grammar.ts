// GBNF for a function call in each template family's format: the call's
// opening, the function's name, then its arguments under the function's JSON
// schema (jsonSchemaToGrammar). With tool_choice 'auto' the grammar is lazy:
// it starts constraining where one of `triggers` appears in the reply (the
// text from the trigger on must fit it); with 'required' or a named function
// it constrains from the first token (no triggers).
import { gbnfLiteral, jsonSchemaToGrammar } from '../../../formats/grammar/index.js';
import type { ToolFormat } from './parse.js';

export interface CallGrammarTool {
  name: string;
  /** JSON schema of the arguments; default any object. */
  parameters?: unknown;
}

export interface CallGrammar {
  gbnf: string;
  /** Strings that start the grammar; undefined: it applies from the reply's start. */
  triggers: string[] | undefined;
}

/** Rule names of a converted schema, prefixed so several schemas share one grammar. */
export function prefixRules(gbnf: string, prefix: string): string {
  const out: string[] = [];
  for (const line of gbnf.split('\n')) {
    const m = /^([A-Za-z0-9_-]+)\s*::=\s*(.*)$/.exec(line);
    if (!m) {
      if (line.trim()) out.push(line);
      continue;
    }
    out.push(`${prefix}${m[1]} ::= ${renameRefs(m[2]!, prefix)}`);
  }
  return out.join('\n');
}

/** Prefixes every rule reference of a rule body (literals, classes and repetition counts left alone). */
function renameRefs(body: string, prefix: string): string {
  let out = '';
  for (let i = 0; i < body.length;) {
    const c = body[i]!;
    if (c === '"' || c === '[') {
      const close = c === '"' ? '"' : ']';
      let j = i + 1;
      while (j < body.length && body[j] !== close) j += body[j] === '\\' ? 2 : 1;
      out += body.slice(i, j + 1);
      i = j + 1;
    } else if (c === '{') {
      const j = body.indexOf('}', i);
      out += body.slice(i, j + 1);
      i = j + 1;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z0-9_-]+/.exec(body.slice(i))!;
      out += prefix + m[0];
      i += m[0].length;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const SP = 'tc-sp ::= | " " | "\\n"{1,2} [ \\t]{0,20}';
const key = (k: string) => `"\\"${k}\\"" tc-sp ":" tc-sp`;

/** The arguments rule of each tool (t0-root, t1-root, ...) and their rules. */
function argumentRules(tools: readonly CallGrammarTool[]): { rules: string[]; args: string[] } {
  const rules: string[] = [];
  const args: string[] = [];
  tools.forEach((t, i) => {
    rules.push(prefixRules(jsonSchemaToGrammar(t.parameters ?? { type: 'object' }), `t${i}-`));
    args.push(`t${i}-root`);
  });
  return { rules, args };
}

/** A JSON object {"name": "N", "<argsKey>": args} for each tool, as alternatives. */
function jsonCalls(tools: readonly CallGrammarTool[], args: string[], argsKey: string, extra = ''): string {
  return tools.map((t, i) => `"{" tc-sp ${key('name')} ${gbnfLiteral(JSON.stringify(t.name))} tc-sp "," tc-sp ${key(argsKey)} ${args[i]}${extra} "}"`).join(' | ');
}

/**
 * The grammar for calls to `tools` in `format`. `lazy`: wait for the call's
 * opening (tool_choice auto); `parallel`: several calls may follow each other.
 * For the generic format `lazy` means a plain {"response": "..."} is allowed too.
 */
export function callGrammar(
  format: ToolFormat, tools: readonly CallGrammarTool[],
  o: { lazy: boolean; parallel: boolean; marker?: (text: string) => string | undefined },
): CallGrammar {
  if (tools.length === 0) throw new RangeError('a call grammar needs at least one function');
  // a marker the vocabulary holds as one control token is that token (its text alone is refused in the output)
  const M = (text: string) => o.marker?.(text) ?? gbnfLiteral(text);
  const { rules, args } = argumentRules(tools);
  const more = (one: string, sep: string) => (o.parallel ? `${one} (${sep} ${one})*` : one);
  let root: string;
  let triggers: string[] | undefined;
  switch (format) {
    case 'hermes':
      rules.push(`tc-call ::= ${M('<tool_call>')} tc-sp (${jsonCalls(tools, args, 'arguments')}) tc-sp ${M('</tool_call>')}`);
      root = more('tc-call', 'tc-sp');
      triggers = ['<tool_call>'];
      break;
    case 'llama3':
      rules.push(`tc-call ::= ${jsonCalls(tools, args, 'parameters')}`);
      root = `${M('<|python_tag|>')}? tc-call`;
      triggers = ['<|python_tag|>', '{"name"'];
      break;
    case 'mistral': {
      const id = ' ( "," tc-sp "\\"id\\"" tc-sp ":" tc-sp "\\"" [a-zA-Z0-9]{9} "\\"" )?';
      rules.push(`tc-call ::= ${jsonCalls(tools, args, 'arguments', id)}`);
      root = `${M('[TOOL_CALLS]')} "[" ${more('tc-call', '"," tc-sp')} "]"`;
      triggers = ['[TOOL_CALLS]'];
      break;
    }
    case 'mistral-args':
      rules.push(`tc-call ::= ${M('[TOOL_CALLS]')} (${tools.map((t, i) => `${gbnfLiteral(t.name)} ${M('[ARGS]')} ${args[i]}`).join(' | ')})`);
      root = more('tc-call', '');
      triggers = ['[TOOL_CALLS]'];
      break;
    case 'gpt-oss':
      rules.push(`tc-call ::= ${M('<|channel|>')} "commentary to=functions." (${tools.map((t, i) => `${gbnfLiteral(t.name)} " " ${M('<|constrain|>')} "json" ${M('<|message|>')} ${args[i]}`).join(' | ')})`);
      root = 'tc-call';
      triggers = ['<|channel|>commentary to=functions.'];
      break;
    case 'generic': {
      rules.push(`tc-call ::= ${jsonCalls(tools, args, 'arguments')}`);
      const call = `"{" tc-sp ${key('tool_call')} tc-call "}" tc-sp`;
      if (o.lazy) {
        rules.push(prefixRules(jsonSchemaToGrammar({ type: 'string' }), 'resp-'));
        root = `${call} | "{" tc-sp ${key('response')} resp-root "}" tc-sp`;
      } else root = call;
      // the generic format is JSON from the start, whatever the choice
      return { gbnf: [`root ::= ${root}`, SP, ...rules].join('\n'), triggers: undefined };
    }
  }
  return { gbnf: [`root ::= ${root}`, SP, ...rules].join('\n'), triggers: o.lazy ? triggers : undefined };
}
