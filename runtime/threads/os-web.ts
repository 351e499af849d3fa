// What node:os gives the core, for the browser bundle (scripts/build-browser.mjs
// maps node:os here): the thread default is the logical core count.
export function availableParallelism(): number {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return typeof n === 'number' && n > 0 ? n : 1;
}
