// Where the hub is, who we are to it and where files go in Node, from the
// environment variables Hugging Face's own tools read (huggingface_hub's
// constants); the variables' meaning is shared with browsers (pull.ts).
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { hubSettings, type HubSettings } from './pull.js';

export interface HubEnv extends HubSettings {
  /** $XDG_CACHE_HOME/run-gguf/hub, else ~/.cache/run-gguf/hub. */
  cacheDir: string;
}

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
  return { ...hubSettings(env, () => tokenFromFile(env, home)), cacheDir: hubCacheDir(env, home) };
}
