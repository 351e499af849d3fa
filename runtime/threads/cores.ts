// The default thread count: the machine's physical cores, not its logical
// ones. Two hardware threads of one core share its execution units and its
// cache; the matmuls are bound by memory bandwidth and the barriers by the
// slowest thread, so a second thread per core adds contention, not speed
// (llama.cpp defaults to physical cores for the same reason).
import { availableParallelism } from 'node:os';
import { MAX_THREADS } from '../graph/ops.js';

type FsLike = { readdirSync(p: string): string[]; readFileSync(p: string, e: 'utf8'): string };

let cached: number | undefined;

/**
 * Physical cores where the system says (Linux sysfs: the distinct sibling
 * sets of the online CPUs); undefined elsewhere (browsers, other systems).
 */
export function physicalCores(): number | undefined {
  const proc = (globalThis as { process?: { platform?: string; getBuiltinModule?: (id: string) => unknown } }).process;
  if (proc?.platform !== 'linux' || typeof proc.getBuiltinModule !== 'function') return undefined;
  const fs = proc.getBuiltinModule('node:fs') as FsLike | undefined;
  if (!fs) return undefined;
  try {
    const root = '/sys/devices/system/cpu';
    const cores = new Set<string>();
    for (const name of fs.readdirSync(root)) {
      if (!/^cpu\d+$/.test(name)) continue;
      try {
        cores.add(fs.readFileSync(`${root}/${name}/topology/thread_siblings_list`, 'utf8').trim());
      } catch { /* an offline CPU has no topology */ }
    }
    return cores.size > 0 ? cores.size : undefined;
  } catch {
    return undefined;
  }
}

/** Physical cores (else logical ones), within what this process may use and the most a pool runs. */
export function defaultThreads(): number {
  if (cached === undefined) {
    const logical = availableParallelism();
    cached = Math.max(1, Math.min(physicalCores() ?? logical, logical, MAX_THREADS));
  }
  return cached;
}
