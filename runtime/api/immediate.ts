// setImmediate for the browser host worker, imported before the engine: the
// core yields between tokens with setImmediate where it exists and with
// setTimeout(0) elsewhere, which browsers clamp to 4 ms once nested, a cost
// per token. A MessageChannel message runs as the next task, unclamped.
const g = globalThis as { setImmediate?: (fn: () => void) => unknown };
if (typeof g.setImmediate !== 'function' && typeof MessageChannel === 'function') {
  const channel = new MessageChannel();
  const queue: (() => void)[] = [];
  channel.port1.onmessage = () => {
    queue.shift()?.();
  };
  g.setImmediate = (fn: () => void) => {
    queue.push(fn);
    channel.port2.postMessage(0);
    return queue.length;
  };
}
export {};
