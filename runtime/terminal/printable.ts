// A model's reply as it may be written to a terminal. Replies are untrusted
// bytes: a small or random model emits ESC, CR and other control characters,
// and one "ESC P" puts the terminal in a device-control string that swallows
// every later line (the prompt included) until the user resets it. On a
// terminal, control characters are shown as their Unicode control pictures
// (␛ ␍ ␀ ...) instead; newlines and tabs stay. Pipes get the text unchanged.
//
// The same holds for any text from a model file that the CLI prints: error
// messages quoting a key, a tensor name or a value (errorLine), `info`'s
// metadata, the model list, tokenize's pieces: a key named "\x1b]0;..."
// must not retitle the terminal nor "\x1b[2J" clear it.

/** C0 controls but \t and \n, DEL, and the C1 controls (which some terminals act on in UTF-8). */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f\u0080-\u009f]/g;

function picture(c: string): string {
  const code = c.charCodeAt(0);
  if (code < 0x20) return String.fromCharCode(0x2400 + code); // ␀..␟
  if (code === 0x7f) return '\u2421'; // ␡
  return '\ufffd'; // C1 has no pictures
}

/** `text` with every control character but newline and tab made visible and inert. */
export function printable(text: string): string {
  return text.replace(CONTROL, picture);
}

/** An error's message on one line, made printable: what the CLI writes to stderr for any failure. */
export function errorLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return printable(msg.replace(/\r?\n/g, '\\n'));
}

/**
 * JSON text with DEL and the C1 controls written as \u escapes (JSON.stringify
 * escapes only C0): the same value for a parser, inert on a terminal.
 */
export function inertJSON(json: string): string {
  // eslint-disable-next-line no-control-regex
  return json.replace(/[\x7f-\x9f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
