// Pools whose workers are still starting. A browser worker spawned from a
// worker only starts once its parent returns to the event loop, so thread 0
// must not block in a barrier before its helpers run: the host awaits
// poolsStarted() after creating a context. Node's pool never registers here
// (its workers start on their own threads while thread 0 waits).
const starting = new Set<Promise<void>>();

export function trackStart(started: Promise<void>): void {
  starting.add(started);
  const done = () => starting.delete(started);
  started.then(done, done);
}

/** Resolves when every pool created so far has all its workers running; rejects if one failed to start. */
export async function poolsStarted(): Promise<void> {
  await Promise.all([...starting]);
}
