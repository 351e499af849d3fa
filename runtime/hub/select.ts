// Which files of a repository a name means, by the rules of llama.cpp's -hf:
// a quant tag matches a .gguf path containing the tag followed by '.' or '-'
// (case-insensitive), the first in listing order wins; with no tag, Q4_K_M,
// then Q8_0, then the first model file; files that are not the model itself
// (mmproj, imatrix, MTP/draft heads) are never picked; a split model is named
// by its first shard and brings every shard of the same prefix and count.
import { DownloadError } from '../errors.js';

export interface RepoFile {
  /** Path inside the repository, '/' separated. */
  path: string;
  size?: number;
  /** The LFS sha256 (64 hex), or the git blob sha1 (40 hex) for files kept in git. */
  oid?: string;
}

export const DEFAULT_TAGS = ['Q4_K_M', 'Q8_0'] as const;

interface SplitInfo {
  /** The path without `.gguf` and without `-0000i-of-0000n`. */
  prefix: string;
  index: number;
  count: number;
}

function splitInfo(path: string): SplitInfo | null {
  if (!path.toLowerCase().endsWith('.gguf')) return null;
  const stem = path.slice(0, -5);
  const m = /^(.+)-(\d{5})-of-(\d{5})$/i.exec(stem);
  return m ? { prefix: m[1]!, index: Number(m[2]), count: Number(m[3]) } : { prefix: stem, index: 1, count: 1 };
}

/** A file that is a model's weights, not a projector, importance matrix or draft head. */
export function isModelFile(path: string): boolean {
  if (!path.toLowerCase().endsWith('.gguf')) return false;
  const name = path.slice(path.lastIndexOf('/') + 1);
  return !['mmproj', 'imatrix', 'mtp-', 'eagle3-', 'dflash-', 'dspark-'].some((w) => name.includes(w));
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function isFirstShard(path: string): boolean {
  const s = splitInfo(path);
  return !!s && (s.count <= 1 || s.index === 1);
}

/** The primary file for a tag (or the default tags), or undefined. */
export function findModelFile(files: readonly RepoFile[], tag?: string): RepoFile | undefined {
  const tags = tag ? [tag] : [...DEFAULT_TAGS];
  for (const t of tags) {
    const re = new RegExp(`${escapeRegExp(t)}[.-]`, 'i');
    const hit = files.find((f) => isModelFile(f.path) && re.test(f.path) && isFirstShard(f.path));
    if (hit) return hit;
  }
  return tag ? undefined : files.find((f) => isModelFile(f.path) && isFirstShard(f.path));
}

/** Every shard of `primary`'s split model in index order, or [primary]; throws when a shard is missing. */
export function splitFiles(files: readonly RepoFile[], primary: RepoFile, where: string): RepoFile[] {
  const s = splitInfo(primary.path);
  if (!s || s.count <= 1) return [primary];
  const shards: RepoFile[] = new Array(s.count);
  for (const f of files) {
    const fs = splitInfo(f.path);
    if (fs && fs.count === s.count && fs.prefix === s.prefix && fs.index >= 1 && fs.index <= s.count) shards[fs.index - 1] = f;
  }
  for (let i = 0; i < s.count; i++) {
    if (!shards[i]) throw new DownloadError(`${where}: shard ${i + 1} of ${s.count} of ${primary.path} is not in the repository`, where);
  }
  return shards;
}

/** The GGUF paths, for an error message. */
export function listGGUF(files: readonly RepoFile[]): string {
  const names = files.filter((f) => f.path.toLowerCase().endsWith('.gguf')).map((f) => f.path);
  return names.length ? `available: ${names.slice(0, 30).join(', ')}${names.length > 30 ? ', ...' : ''}` : 'it has no .gguf files';
}

/** The files `file` or `tag` name in a listing (every shard when split); DownloadError when there is none. */
export function selectFiles(files: readonly RepoFile[], repo: string, sel: { file?: string; tag?: string }): RepoFile[] {
  let primary: RepoFile | undefined;
  if (sel.file) {
    const want = sel.file.toLowerCase();
    primary = files.find((f) => f.path.toLowerCase() === want);
    if (!primary) throw new DownloadError(`${repo} has no file ${sel.file} (${listGGUF(files)})`, repo);
    // a later shard names its model too: the set starts from the first
    if (!isFirstShard(primary.path)) primary = splitFiles(files, primary, repo)[0]!;
  } else {
    primary = findModelFile(files, sel.tag);
    if (!primary) {
      throw new DownloadError(`${repo} has no GGUF model file${sel.tag ? ` for quant ${sel.tag}` : ''} (${listGGUF(files)})`, repo);
    }
  }
  return splitFiles(files, primary, repo);
}
