// Pools whose workers are still starting. A browser worker spawned from a
// worker only starts once its parent returns to the event loop, so thread 0
// must not block in a barrier before its helpers run: the host worker awaits
// poolsStarted() after creating a context. Node's workers start on their own,
// but awaiting them there too turns a worker that failed to start into an
// error instead of a barrier that waits for it forever (the failure event
// cannot reach a thread blocked in Atomics.wait).
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
