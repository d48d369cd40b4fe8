// One WebSocket with sign-in, heartbeats, server clock offset and reconnects. The
// decisions (when to retry, what to show) come from the pure machine in js/link.js.
import {
  initialLink, linkClosed, linkConnecting, linkOnline, linkStopped,
} from '../js/link.js';
import { clockOffset } from '../js/time.js';
import { every } from './ticker.js';

const MAX_TIMER_MS = 2 ** 31 - 1;
/** While waiting out a back-off, ask the server's readiness this often (ms). */
const PROBE_MS = 1000;

/**
 * One WebSocket to the server: sign-in, heartbeats, reconnects (decided by js/link.js).
 */
export class Channel {
  /**
   * path: '/ws/agent' or '/ws/supervisor', with its query if any ('?batch=1')
   * hello(): the auth frame to send when the socket opens
   * onMessage(msg), onLink(link): callbacks
   * @param {string} path
   * @param {{hello: () => object, onMessage: (msg: object) => void, onLink: (link: import('../js/link.js').Link) => void}} handlers
   */
  constructor(path, { hello, onMessage, onLink }) {
    this.path = path;
    this.hello = hello;
    this.onMessage = onMessage;
    this.onLink = onLink;
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
    this.heartbeat = { interval: 25, timeout: 60 };
    addEventListener('online', () => { if (this.link.phase === 'reconnecting') this.connect(); });
  }

  /** Server-clock now in ms. */
  now() {
    return Date.now() + this.offset;
  }

  nextRef(prefix = 'r') {
    this.refs += 1;
    return `${prefix}${this.refs}`;
  }

  setLink(link) {
    this.link = link;
    this.onLink(link);
  }

  connect() {
    clearTimeout(this.retryTimer);
    clearTimeout(this.probeTimer);
    this.detach();
    const url = new URL(this.path, location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    this.lastError = '';
    const ws = new WebSocket(url);
    this.ws = ws;
    this.setLink(linkConnecting(this.link));
    ws.onopen = () => this.send(this.hello());
    ws.onmessage = (event) => this.receive(event.data);
    ws.onclose = (event) => this.closed(event.code);
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
    } else if (msg.type === 'reauthed') {
      // The open socket took a renewed token (ui/sso.js); counted for tests and support.
      const body = document.body.dataset;
      body.tokenRenewals = String(Number(body.tokenRenewals ?? 0) + 1);
      return;
    }
    this.onMessage(msg);
  }

  /** Call once the server accepted the sign-in; starts heartbeats. */
  online(heartbeat) {
    if (heartbeat) this.heartbeat = heartbeat;
    this.setLink(linkOnline(this.link));
    this.lastHeardAt = Date.now();
    this.ping();
    this.stopPings();
    this.stopPings = every(Math.min(this.heartbeat.interval * 1000, MAX_TIMER_MS), () => this.beat());
  }

  beat() {
    if (Date.now() - this.lastHeardAt > this.heartbeat.timeout * 1000) {
      // The server went silent: treat it as an abnormal close and retry.
      this.detach();
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

  send(msg) {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  closed(code) {
    this.stopPings();
    this.ws = null;
    const next = linkClosed(this.link, code, this.lastError, Date.now());
    this.setLink(next);
    if (next.phase === 'reconnecting') {
      this.retryTimer = setTimeout(() => this.connect(), Math.max(0, next.retryAt - Date.now()));
      this.probeTimer = setTimeout(() => this.probe(), PROBE_MS);
    }
  }

  /** While the back-off runs, a cheap readiness probe: the moment the server answers
   *  ready, reconnect at once instead of waiting out the delay. */
  async probe() {
    if (this.link.phase !== 'reconnecting' || this.ws) return;
    let ready = false;
    try {
      ready = (await fetch('/readyz', { cache: 'no-store' })).ok;
    } catch {
      // Still down: keep waiting.
    }
    if (this.link.phase !== 'reconnecting' || this.ws) return;
    if (ready) this.connect();
    else this.probeTimer = setTimeout(() => this.probe(), PROBE_MS);
  }

  /** Retry at once (the banner's button). */
  retryNow() {
    if (this.link.phase === 'reconnecting') this.connect();
  }

  /** Close on purpose; nothing reconnects until connect() is called again. */
  stop(stop) {
    clearTimeout(this.retryTimer);
    clearTimeout(this.probeTimer);
    this.stopPings();
    this.detach();
    this.setLink(linkStopped(this.link, stop));
  }

  /** Restart after a stop (for example "Sign in again"). */
  restart() {
    this.link = initialLink();
    this.connect();
  }

  detach() {
    const ws = this.ws;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    if (ws.readyState <= WebSocket.OPEN) ws.close(1000);
    this.ws = null;
  }
}
