// Where the hub is, who we are to it and where files go, from the environment
// variables Hugging Face's own tools read (huggingface_hub's constants).
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

export interface HubEnv {
  /** HF_ENDPOINT without a trailing slash; default https://huggingface.co. */
  endpoint: string;
  /** HF_TOKEN (or the older HUGGING_FACE_HUB_TOKEN), else the token file `huggingface-cli login` wrote. */
  token?: string;
  /** $XDG_CACHE_HOME/run-gguf/hub, else ~/.cache/run-gguf/hub. */
  cacheDir: string;
  /** HF_HUB_OFFLINE: use what the cache holds, never ask the network. */
  offline: boolean;
}

const truthy = (v: string | undefined) => !!v && ['1', 'on', 'yes', 'true'].includes(v.trim().toLowerCase());

/** The run-gguf cache root ($XDG_CACHE_HOME/run-gguf when that is absolute, else ~/.cache/run-gguf). */
export function runGgufCacheDir(env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  const base = env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : join(home, '.cache');
  return join(base, 'run-gguf');
}

/** Downloads live here, apart from the synthetic models beside them. */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  return join(runGgufCacheDir(env, home), 'hub');
}

function tokenFromFile(env: NodeJS.ProcessEnv, home: string): string | undefined {
  const hfHome = env.HF_HOME || join(env.XDG_CACHE_HOME || join(home, '.cache'), 'huggingface');
  const path = env.HF_TOKEN_PATH || join(hfHome, 'token');
  try {
    return readFileSync(path, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export function hubEnv(env: NodeJS.ProcessEnv = process.env, home = homedir()): HubEnv {
  const endpoint = (env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, '');
  const token = truthy(env.HF_HUB_DISABLE_IMPLICIT_TOKEN) ? undefined
    : (env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN || '').trim() || tokenFromFile(env, home);
  return { endpoint, token, cacheDir: hubCacheDir(env, home), offline: truthy(env.HF_HUB_OFFLINE) };
}
