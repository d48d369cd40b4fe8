// One WebSocket's life cycle, shared by the agent client (js/presence-client.js) and the
// supervisor page (ui/channel.js): the sign-in frame on open, JSON frames in, pings at the
// interval the server announced, a server gone silent treated as lost, the server clock's
// offset from pongs, reconnects decided by the pure machine in js/link.js, and while a
// back-off runs a readiness probe (GET /readyz of the same server) that reconnects the
// moment the server answers ready. No DOM: WebSocket, timers and, for the probe, fetch.
import { initialLink, linkClosed, linkConnecting, linkOnline, linkStopped } from './link.js';
import { clockOffset } from './time.js';

const MAX_TIMER_MS = 2 ** 31 - 1;
/** While waiting out a back-off, ask the server's readiness this often (ms). */
export const PROBE_MS = 1000;

/**
 * What a SocketLink is given.
 * @typedef {{url: string, hello: () => object, onMessage: (msg: any) => void,
 *   onLink: (link: import('./link.js').Link, previous: import('./link.js').Link) => void,
 *   onClosed?: () => void, every: (ms: number, fn: () => void) => (() => void),
 *   WebSocket?: typeof WebSocket, random?: () => number,
 *   fetch?: ((url: string, init?: object) => Promise<{ok: boolean}>) | null,
 *   heartbeat?: {interval: number, timeout: number}}} SocketLinkOptions
 */

/**
 * The readiness address of a socket's server ("wss://h/ws/agent" → "https://h/readyz").
 * @param {string} socketUrl
 * @returns {string}
 */
export function readinessUrl(socketUrl) {
  const url = new URL('/readyz', socketUrl);
  url.protocol = url.protocol === 'wss:' || url.protocol === 'https:' ? 'https:' : 'http:';
  return url.href;
}

/**
 * One socket to the server, reconnected by the close-code rules (js/link.js). The owner
 * reads `link` and gets every JSON message through `onMessage` (pongs and errors too,
 * after the link has taken what it needs from them).
 */
export class SocketLink {
  /**
   * @param {SocketLinkOptions} options url: the socket's address; hello(): the frame to
   *   send once open (the auth); onMessage, onLink (with the previous link), onClosed
   *   (before the link moves on): callbacks; every: the heartbeat timer; WebSocket,
   *   random, fetch (null: no readiness probe), heartbeat: defaults until announced
   */
  constructor({ url, hello, onMessage, onLink, onClosed = () => {}, every,
    WebSocket: Socket = globalThis.WebSocket, random = Math.random,
    fetch = globalThis.fetch ?? null, heartbeat = { interval: 10, timeout: 30 } }) {
    Object.assign(this, { url, hello, onMessage, onLink, onClosed, every, Socket, random });
    // Called unbound: a browser's fetch refuses another `this`.
    this.fetch = fetch ? (address, init) => fetch(address, init) : null;
    this.heartbeat = heartbeat;
    /** @type {import('./link.js').Link} */
    this.link = initialLink();
    this.ws = null;
    this.retryTimer = null;
    this.probeTimer = null;
    this.stopPings = () => {};
    this.offset = 0;
    this.lastError = '';
    this.lastHeardAt = 0;
    this.refs = 0;
    this.pings = new Map();
  }

  /**
   * Server-clock now in ms.
   * @returns {number}
   */
  now() {
    return Date.now() + this.offset;
  }

  /**
   * A fresh request reference.
   * @param {string} [prefix]
   * @returns {string}
   */
  nextRef(prefix = 'r') {
    this.refs += 1;
    return `${prefix}${this.refs}`;
  }

  /**
   * Send one frame; false when the socket is not open.
   * @param {object} msg
   * @returns {boolean}
   */
  send(msg) {
    if (this.ws?.readyState !== 1) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  /**
   * Open the socket (again), keeping the link's history (attempts, ever online).
   * @returns {void}
   */
  open() {
    clearTimeout(this.retryTimer);
    clearTimeout(this.probeTimer);
    this.detach();
    this.lastError = '';
    const ws = new this.Socket(this.url);
    this.ws = ws;
    this.setLink(linkConnecting(this.link));
    ws.onopen = () => this.send(this.hello());
    ws.onmessage = (event) => this.receive(event.data);
    ws.onclose = (event) => this.closed(event.code);
  }

  /**
   * Start afresh (a first sign-in, or after a stop).
   * @returns {void}
   */
  restart() {
    this.link = initialLink();
    this.open();
  }

  /**
   * Retry at once while reconnecting.
   * @returns {void}
   */
  retryNow() {
    if (this.link.phase === 'reconnecting') this.open();
  }

  /**
   * Close on purpose; nothing reconnects until restart().
   * @param {import('./link.js').Stop | null} [stop]
   * @returns {void}
   */
  stop(stop = null) {
    clearTimeout(this.retryTimer);
    clearTimeout(this.probeTimer);
    this.detach();
    this.setLink(linkStopped(this.link, stop));
  }

  /**
   * The server accepted the sign-in: online, pinging at its heartbeat interval.
   * @param {{interval: number, timeout: number} | null | undefined} heartbeat
   * @returns {void}
   */
  online(heartbeat) {
    if (heartbeat) this.heartbeat = heartbeat;
    this.setLink(linkOnline(this.link));
    this.lastHeardAt = Date.now();
    this.ping();
    this.stopPings();
    this.stopPings = this.every(Math.min(this.heartbeat.interval * 1000, MAX_TIMER_MS),
      () => this.beat());
  }

  setLink(link) {
    const previous = this.link;
    this.link = link;
    this.onLink(link, previous);
  }

  receive(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    this.lastHeardAt = Date.now();
    if (msg.type === 'pong') {
      const sentAt = this.pings.get(msg.ref);
      this.pings.delete(msg.ref);
      if (sentAt !== undefined && typeof msg.t === 'number') {
        this.offset = clockOffset(sentAt, Date.now(), msg.t);
      }
    } else if (msg.type === 'error' && msg.ref === null) {
      this.lastError = msg.message ?? '';
    }
    this.onMessage(msg);
  }

  beat() {
    if (Date.now() - this.lastHeardAt > this.heartbeat.timeout * 1000) {
      this.detach(); // the server went silent: an abnormal close, retried
      this.closed(1006);
      return;
    }
    this.ping();
  }

  ping() {
    const ref = this.nextRef('p');
    this.pings.clear();
    this.pings.set(ref, Date.now());
    this.send({ type: 'ping', ref });
  }

  closed(code) {
    this.stopPings();
    this.stopPings = () => {};
    this.ws = null;
    this.onClosed();
    const next = linkClosed(this.link, code, this.lastError, Date.now(), this.random);
    this.setLink(next);
    if (next.phase === 'reconnecting') {
      this.retryTimer = setTimeout(() => this.open(), Math.max(0, next.retryAt - Date.now()));
      if (this.fetch) this.probeTimer = setTimeout(() => this.probe(), PROBE_MS);
    }
  }

  /** While the back-off runs, a cheap readiness probe: the moment the server answers
   *  ready, reconnect at once instead of waiting out the delay. */
  async probe() {
    if (this.link.phase !== 'reconnecting' || this.ws) return;
    let ready = false;
    try {
      ready = (await this.fetch(readinessUrl(this.url), { cache: 'no-store' })).ok;
    } catch {
      // Still down: keep waiting.
    }
    if (this.link.phase !== 'reconnecting' || this.ws) return;
    if (ready) this.open();
    else this.probeTimer = setTimeout(() => this.probe(), PROBE_MS);
  }

  detach() {
    this.stopPings();
    this.stopPings = () => {};
    const ws = this.ws;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    if (ws.readyState <= 1) ws.close(1000);
    this.ws = null;
  }
}
