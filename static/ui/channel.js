// The supervisor page's WebSocket: the shared life cycle of js/socket-link.js (sign-in,
// heartbeats, server clock offset, reconnects with a readiness probe) plus what only a
// page does — its address relative to the page, the browser's `online` event, and the
// count of token renewals kept on the body for tests and support.
import { SocketLink } from '../js/socket-link.js';
import { every } from './ticker.js';

/**
 * One WebSocket to the server for a page: sign-in, heartbeats, reconnects.
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
    const url = new URL(path, location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    this.conn = new SocketLink({
      url: url.href, hello, every, heartbeat: { interval: 25, timeout: 60 },
      onLink: (link) => onLink(link),
      onMessage: (msg) => {
        if (msg.type === 'reauthed') {
          // The open socket took a renewed token (ui/sso.js); counted for tests and support.
          const body = document.body.dataset;
          body.tokenRenewals = String(Number(body.tokenRenewals ?? 0) + 1);
          return;
        }
        onMessage(msg);
      },
    });
    addEventListener('online', () => this.retryNow());
  }

  /** @returns {import('../js/link.js').Link} the connection's phase and history */
  get link() {
    return this.conn.link;
  }

  /** @returns {number} server-clock now in ms */
  now() {
    return this.conn.now();
  }

  nextRef(prefix = 'r') {
    return this.conn.nextRef(prefix);
  }

  send(msg) {
    return this.conn.send(msg);
  }

  /** Call once the server accepted the sign-in; starts heartbeats. */
  online(heartbeat) {
    this.conn.online(heartbeat);
  }

  /** Retry at once (the banner's button). */
  retryNow() {
    this.conn.retryNow();
  }

  /** Close on purpose; nothing reconnects until restart() is called. */
  stop(stop) {
    this.conn.stop(stop);
  }

  /** Restart after a stop (for example "Sign in again"), or sign in the first time. */
  restart() {
    this.conn.restart();
  }
}
