// Time helpers: server clock offset from ping/pong, durations and countdowns. Pure.

/**
 * Estimated server-minus-local clock offset (ms) from one ping sent at `sentAt`,
 * answered with server time `serverT`, received at `receivedAt` (all ms).
 * @param {number} sentAt
 * @param {number} receivedAt
 * @param {number} serverT
 * @returns {number}
 */
export function clockOffset(sentAt, receivedAt, serverT) {
  return Math.round(serverT - (sentAt + receivedAt) / 2);
}

const pad = (n) => String(n).padStart(2, '0');

/**
 * "0:07", "12:05", "1:02:03", "3d 4h" for a duration in ms (negative → 0).
 * @param {number} ms
 * @returns {string}
 */
export function formatDuration(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}:${pad(m)}:${pad(s)}`;
  return `${m}:${pad(s)}`;
}

/**
 * Seconds left until `deadline` (ms) at `now` (ms), never negative, rounded up.
 * @param {number} deadline
 * @param {number} now
 * @returns {number}
 */
export function secondsLeft(deadline, now) {
  return Math.max(0, Math.ceil((deadline - now) / 1000));
}

/**
 * "14:32" local wall-clock time of an epoch-ms instant.
 * @param {number} ms
 * @returns {string}
 */
export function clockTime(ms) {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/**
 * Epoch ms of local midnight of the day containing `ms`.
 * @param {number} ms
 * @returns {number}
 */
export function startOfDay(ms) {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}
