// The connection life cycle as a pure state machine (sans-I/O): the page feeds it
// socket events and reads back what to show and when to retry. Backoff uses
// exponential growth with full jitter: delay = random() * min(cap, base * 2^attempt).
import { describeStop, shouldReconnect } from './closecodes.js';

/** @typedef {{baseMs: number, capMs: number}} Backoff */
/** @typedef {{title: string, message: string, signIn: boolean, code: number}} Stop */
/**
 * @typedef {{phase: 'idle' | 'connecting' | 'online' | 'reconnecting' | 'stopped',
 *   attempt: number, retryAt: number | null, stop: Stop | null, everOnline: boolean}} Link
 */

/** @type {Readonly<Backoff>} */
export const DEFAULT_BACKOFF = Object.freeze({ baseMs: 500, capMs: 30_000 });

/**
 * Delay before reconnect attempt number `attempt` (0 = first retry).
 * @param {number} attempt
 * @param {Backoff} [backoff]
 * @param {() => number} [random] in [0, 1)
 * @returns {number} ms
 */
export function backoffDelay(attempt, { baseMs, capMs } = DEFAULT_BACKOFF, random = Math.random) {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/**
 * phase: 'idle' | 'connecting' | 'online' | 'reconnecting' | 'stopped'
 * attempt: failed attempts since the last successful sign-in
 * retryAt: epoch ms of the next attempt while reconnecting
 * stop: {title, message, signIn, code} once stopped
 * @returns {Link}
 */
export function initialLink() {
  return { phase: 'idle', attempt: 0, retryAt: null, stop: null, everOnline: false };
}

/**
 * Call when a socket is being opened.
 * @param {Link} link
 * @returns {Link}
 */
export function linkConnecting(link) {
  const phase = link.phase === 'reconnecting' || link.everOnline ? 'reconnecting' : 'connecting';
  return { ...link, phase, retryAt: null, stop: null };
}

/**
 * Call when the server accepted the sign-in (welcome / snapshot / resumed).
 * @param {Link} link
 * @returns {Link}
 */
export function linkOnline(link) {
  return { ...link, phase: 'online', attempt: 0, retryAt: null, stop: null, everOnline: true };
}

/**
 * Call when the socket closed; `now` in ms, `random` in [0, 1).
 * @param {Link} link
 * @param {number} code the close code
 * @param {string} serverMessage the close reason
 * @param {number} now
 * @param {() => number} [random]
 * @param {Backoff} [backoff]
 * @returns {Link}
 */
export function linkClosed(link, code, serverMessage, now, random = Math.random,
  backoff = DEFAULT_BACKOFF) {
  if (link.phase === 'stopped') return link;
  if (!shouldReconnect(code)) {
    return { ...link, phase: 'stopped', retryAt: null, stop: describeStop(code, serverMessage) };
  }
  const delay = backoffDelay(link.attempt, backoff, random);
  return { ...link, phase: 'reconnecting', attempt: link.attempt + 1, retryAt: now + delay };
}

/**
 * Call when the user (or page) ends the connection on purpose.
 * @param {Link} link
 * @param {Stop | null} stop
 * @returns {Link}
 */
export function linkStopped(link, stop) {
  return { ...link, phase: 'stopped', retryAt: null, stop };
}
