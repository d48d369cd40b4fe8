// every(ms, fn): a repeating timer that keeps running in background tabs (through a
// worker when the browser allows one), for heartbeats. Returns a function that stops it.
let worker = null;
const callbacks = new Map();
let nextId = 1;

function getWorker() {
  if (worker === null) {
    try {
      worker = new Worker('/static/ui/tick-worker.js');
      worker.onmessage = (event) => callbacks.get(event.data)?.();
    } catch {
      worker = false;
    }
  }
  return worker;
}

/**
 * A repeating timer that keeps running in background tabs (see the top of this file).
 * @param {number} ms
 * @param {() => void} fn
 * @returns {() => void} stops the timer
 */
export function every(ms, fn) {
  const w = getWorker();
  if (!w) {
    const timer = setInterval(fn, ms);
    return () => clearInterval(timer);
  }
  const id = nextId++;
  callbacks.set(id, fn);
  w.postMessage({ id, ms });
  return () => {
    callbacks.delete(id);
    w.postMessage({ id, ms: 0 });
  };
}
