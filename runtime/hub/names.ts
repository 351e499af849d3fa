// Model names that are not local paths: what `run-gguf pull`, every command's
// model argument and loadModel accept, as llama.cpp's -hf and node-llama-cpp's
// hf: URIs write them.
//
//   hf:user/repo               the repo's default quant (Q4_K_M, else Q8_0, else the first model file)
//   hf:user/repo:Q5_K_M        that quant (case-insensitive)
//   hf:user/repo/dir/f.gguf    that file (case-insensitive); a split model's first shard brings the rest
//   user/repo:Q5_K_M           the same without hf: (a quant is then required, so a relative path is not taken for a repo)
//   https://host/path/f.gguf   a plain download
import { DownloadError } from '../errors.js';

export type ModelName =
  | { kind: 'hf'; repo: string; file?: string; tag?: string; text: string }
  | { kind: 'url'; url: string; text: string };

/**
 * A repo id as the hub accepts it: two parts joined by one '/', each of
 * letters, digits and _ with '.', '-' only between them.
 */
export function isValidRepoId(repo: string): boolean {
  return repo.length <= 256 && /^[A-Za-z0-9_]+(?:[.-][A-Za-z0-9_]+)*\/[A-Za-z0-9_]+(?:[.-][A-Za-z0-9_]+)*$/.test(repo);
}

const TAG = /^[A-Za-z0-9_.-]+$/;

/** A quant tag as llama.cpp's -hf takes it (Q4_K_M, q8_0, UD-Q4_K_XL, IQ4_XS, F16). */
export function isValidTag(tag: string): boolean {
  return tag.length > 0 && tag.length <= 64 && TAG.test(tag);
}

/**
 * The name, or null when `text` is none of these forms (so it is a path).
 * Throws DownloadError for an hf: name that is malformed, so a typo is not
 * read as a missing local file.
 */
export function parseModelName(text: string): ModelName | null {
  if (/^https?:\/\//i.test(text)) {
    try {
      return { kind: 'url', url: new URL(text).href, text };
    } catch {
      throw new DownloadError(`not a valid URL: "${text}"`, text);
    }
  }
  const hf = /^hf:(?:\/\/)?(.*)$/i.exec(text);
  const rest = hf ? hf[1]! : text;
  const parts = rest.split('/');
  if (!hf) {
    // bare user/repo:TAG (no file part, a quant after the colon)
    const m = /^([^/:]+\/[^/:]+):([^/:]+)$/.exec(rest);
    if (!m || !isValidRepoId(m[1]!) || !isValidTag(m[2]!)) return null;
    return { kind: 'hf', repo: m[1]!, tag: m[2]!, text };
  }
  const bad = (why: string) => new DownloadError(`"${text}": ${why}; expected hf:user/repo, hf:user/repo:QUANT or hf:user/repo/file.gguf`, text);
  if (parts.length < 2) throw bad('no repository');
  if (parts.length === 2) {
    const [user, repoTag] = parts as [string, string];
    const colon = repoTag.indexOf(':');
    const repo = `${user}/${colon < 0 ? repoTag : repoTag.slice(0, colon)}`;
    const tag = colon < 0 ? undefined : repoTag.slice(colon + 1);
    if (!isValidRepoId(repo)) throw bad(`"${repo}" is not a repository id`);
    if (tag !== undefined && !isValidTag(tag)) throw bad(`"${tag}" is not a quant name`);
    return { kind: 'hf', repo, tag, text };
  }
  const repo = `${parts[0]}/${parts[1]}`;
  const file = parts.slice(2).join('/');
  if (!isValidRepoId(repo)) throw bad(`"${repo}" is not a repository id`);
  if (!/\.gguf$/i.test(file) || parts.slice(2).some((p) => p === '' || p === '.' || p === '..')) throw bad(`"${file}" is not a .gguf file in the repository`);
  return { kind: 'hf', repo, file, text };
}

/** Whether `text` is meant as a model name rather than a path (hf:, http(s):// or user/repo:QUANT); never throws. */
export function looksLikeModelName(text: string): boolean {
  if (/^(hf:|https?:\/\/)/i.test(text)) return true;
  try {
    return parseModelName(text) !== null;
  } catch {
    return false;
  }
}
