// GGUF strings are length-prefixed bytes that are meant to be UTF-8 but are
// not always (some vocabularies hold raw byte pieces). We decode to JS strings
// and keep the exact bytes whenever decoding would not give them back.

export interface DecodedString {
  text: string;
  /** The stored bytes, only when `text` does not encode back to them. */
  raw?: Uint8Array;
}

// ignoreBOM keeps a leading U+FEFF in the text, so that it encodes back.
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lenient = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
const encoder = new TextEncoder();

// Most keys and tokens are short ASCII; building those directly is several
// times faster than a TextDecoder call, which matters for 100k-token vocabularies.
const SHORT = 32;

export function decodeString(bytes: Uint8Array): DecodedString {
  const n = bytes.length;
  let ascii = true;
  for (let i = 0; i < n; i++) {
    if (bytes[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    if (n <= SHORT) return { text: String.fromCharCode.apply(null, bytes as unknown as number[]) };
    return { text: strict.decode(bytes) };
  }
  try {
    return { text: strict.decode(bytes) };
  } catch {
    return { text: lenient.decode(bytes), raw: bytes.slice() };
  }
}

/** The bytes to store for a string: `raw` when it is still the same string, else UTF-8. */
export function encodeString(text: string, raw?: Uint8Array): Uint8Array {
  if (raw && lenient.decode(raw) === text) return raw;
  return encoder.encode(text);
}
