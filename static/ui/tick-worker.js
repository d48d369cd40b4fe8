// Timers in a dedicated worker keep their pace when the page is in a background tab
// (pages' own timers may be throttled to once a minute there, which would miss
// heartbeats). The page asks {id, ms} to start and {id, ms: 0} to stop.
const timers = new Map();

self.onmessage = (event) => {
  const { id, ms } = event.data;
  clearInterval(timers.get(id));
  timers.delete(id);
  if (ms > 0) timers.set(id, setInterval(() => self.postMessage(id), ms));
};
