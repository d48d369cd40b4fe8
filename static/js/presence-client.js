// The embeddable agent client: one framework-free ES module that signs an agent in on
// /ws/agent, keeps its presence, offers and sessions (js/agent-state.js), sends pings at
// the interval the server announces, reconnects by the close-code rules (js/link.js), and
// lets the host page change presence and answer offers. The socket's life cycle (pings,
// reconnects, the readiness probe while a back-off runs) is js/socket-link.js, shared with
// the supervisor page. The agent page runs on it; a CRM's
// agent desktop imports it the same way (docs/client.md). No DOM: it needs only WebSocket,
// timers and EventTarget, so it also runs under node (static/tests/presence-client.test.mjs).
import { activityDue } from './activity.js';
import { initialAgentState, reduce, request } from './agent-state.js';
import { SocketLink } from './socket-link.js';

/**
 * Options of a PresenceClient.
 * @typedef {{url: string, token: string, WebSocket?: typeof WebSocket,
 *   every?: (ms: number, fn: () => void) => () => void, random?: () => number,
 *   fetch?: ((url: string, init?: object) => Promise<{ok: boolean}>) | null}} ClientOptions
 */
/**
 * What `change` events carry: the state after `message` (null for a local request).
 * @typedef {{state: import('./agent-state.js').AgentState, message: object | null}} ChangeDetail
 */

/**
 * A repeating timer: the default heartbeat timer (pages may pass one that keeps running in
 * background tabs).
 * @param {number} ms
 * @param {() => void} fn
 * @returns {() => void} stops it
 */
export function intervalTimer(ms, fn) {
  const timer = setInterval(fn, ms);
  return () => clearInterval(timer);
}

/**
 * The /ws/agent address for a page or server address ("https://h/app" → "wss://h/ws/agent").
 * @param {string} base an http(s) or ws(s) URL of the server
 * @returns {string}
 */
export function agentSocketUrl(base) {
  const url = new URL('/ws/agent', base);
  url.protocol = url.protocol === 'https:' || url.protocol === 'wss:' ? 'wss:' : 'ws:';
  return url.href;
}

/**
 * One agent's connection. Events (all `CustomEvent`): `change` ({@link ChangeDetail}) after
 * every message or request, `link` (detail: the Link) when the connection phase changes,
 * `offer` (detail: the offer as held in the state) for each new offer, `reauthed`.
 */
export class PresenceClient extends EventTarget {
  /**
   * @param {ClientOptions} options url: the server (http(s) or ws(s)); token: the agent's
   *   bearer token; WebSocket, every, random: for tests and background-tab timers
   */
  constructor({ url, token, WebSocket: Socket = globalThis.WebSocket, every = intervalTimer,
    random = Math.random, fetch = globalThis.fetch ?? null }) {
    super();
    this.url = agentSocketUrl(url);
    this.token = token;
    /** @type {import('./agent-state.js').AgentState} */
    this.state = initialAgentState();
    /** Server-clock ms when the socket was lost (null while connected). */
    this.lostAt = null;
    this.waiting = new Map();
    /** @type {number | null} seconds, from `welcome` */
    this.activityInterval = null;
    /** @type {number | null} ms of the last activity frame on this link */
    this.activitySentAt = null;
    this.conn = new SocketLink({
      url: this.url, WebSocket: Socket, every, random, fetch,
      hello: () => ({ type: 'auth', token: this.token }),
      onMessage: (msg) => this.receive(msg),
      onLink: (link, previous) => this.linked(link, previous),
      onClosed: () => {
        for (const waiter of this.waiting.values()) waiter.reject(new Error('Connection lost'));
        this.waiting.clear();
      },
    });
  }

  /**
   * The connection's phase and history.
   * @returns {import('./link.js').Link}
   */
  get link() {
    return this.conn.link;
  }

  /**
   * Server-clock now in ms (measured from pong).
   * @returns {number}
   */
  now() {
    return this.conn.now();
  }

  /**
   * Open the socket and sign in (again: from the start, e.g. after a stop).
   * @returns {void}
   */
  connect() {
    this.conn.restart();
  }

  /** Kept for the page shell: the same as connect(). @returns {void} */
  restart() {
    this.connect();
  }

  /**
   * Retry at once while reconnecting.
   * @returns {void}
   */
  retryNow() {
    this.conn.retryNow();
  }

  /**
   * Close on purpose; nothing reconnects until connect().
   * @param {import('./link.js').Stop | null} [stop]
   * @returns {void}
   */
  stop(stop = null) {
    this.conn.stop(stop);
  }

  /**
   * A fresh request reference.
   * @param {string} [prefix]
   * @returns {string}
   */
  nextRef(prefix = 'r') {
    return this.conn.nextRef(prefix);
  }

  /**
   * Send one frame; false when the socket is not open.
   * @param {object} msg
   * @returns {boolean}
   */
  send(msg) {
    return this.conn.send(msg);
  }

  /**
   * Pick a status; resolves with the ack's presence, rejects with the server's error.
   * @param {string} statusId
   * @returns {Promise<import('./agent-state.js').Presence>}
   */
  setPresence(statusId) {
    return this.ask({ type: 'set_presence', status_id: statusId }, { kind: 'presence', statusId })
      .then((ack) => ack.presence);
  }

  /**
   * Pick the status to take when the last open session closes (with none open it
   * applies at once, as setPresence); resolves with the ack's presence.
   * @param {string} statusId
   * @returns {Promise<import('./agent-state.js').Presence>}
   */
  setNextPresence(statusId) {
    return this.ask({ type: 'set_next_presence', status_id: statusId },
      { kind: 'presence', statusId }).then((ack) => ack.presence);
  }

  /**
   * Drop the pending next status (the current status stays).
   * @returns {boolean} false when not connected
   */
  clearNextPresence() {
    return this.send({ type: 'clear_next_presence', ref: this.nextRef() });
  }

  /**
   * Report user activity (keyboard, pointer, the tab shown: decision 43); sent at most
   * once per the `activity_interval` the server announced in `welcome`.
   * @param {number} [now] ms
   * @returns {boolean} whether a frame was sent
   */
  activity(now = Date.now()) {
    if (this.conn.link.phase !== 'online') return false;
    if (!activityDue(this.activitySentAt, now, this.activityInterval)) return false;
    if (!this.send({ type: 'activity' })) return false;
    this.activitySentAt = now;
    return true;
  }

  /**
   * Accept an offer; resolves with the work item summary.
   * @param {string} offerId
   * @returns {Promise<object>}
   */
  accept(offerId) {
    return this.ask({ type: 'accept', offer_id: offerId }, { kind: 'accept', offerId })
      .then((ack) => ack.work_item);
  }

  /**
   * Reject an offer with an optional reason (≤ 500 characters).
   * @param {string} offerId
   * @param {string} [reason]
   * @returns {Promise<object>} the ack
   */
  reject(offerId, reason = '') {
    return this.ask({ type: 'reject', offer_id: offerId, reason }, { kind: 'reject', offerId });
  }

  /**
   * Close a work item the agent holds.
   * @param {string} workItemId
   * @returns {Promise<object>} the ack
   */
  closeWork(workItemId) {
    return this.ask({ type: 'close_work', work_item_id: workItemId },
      { kind: 'close_work', workItemId });
  }

  /**
   * Sign out on every tab (the server closes them with 4010).
   * @returns {boolean} false when not connected
   */
  signOut() {
    return this.send({ type: 'sign_out', ref: this.nextRef() });
  }

  /**
   * Present a renewed token to the open socket and use it for reconnects.
   * @param {string} token
   * @returns {void}
   */
  renew(token) {
    this.token = token;
    this.send({ type: 'reauth', token, ref: this.nextRef('reauth') });
  }

  /**
   * Replace the state through a reducer of js/agent-state.js (e.g. dismissNotice).
   * @param {(state: import('./agent-state.js').AgentState) => import('./agent-state.js').AgentState} fn
   * @returns {void}
   */
  update(fn) {
    const next = fn(this.state);
    if (next !== this.state) this.changed(next, null);
  }

  ask(frame, req) {
    const ref = this.nextRef();
    if (!this.send({ ...frame, ref })) {
      return Promise.reject(new Error('Waiting for connection'));
    }
    this.changed(request(this.state, ref, req), null);
    return new Promise((resolve, reject) => this.waiting.set(ref, { resolve, reject }));
  }

  changed(state, message) {
    this.state = state;
    this.emit('change', { state, message });
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  linked(link, previous) {
    if (link.phase !== 'online' && previous.phase === 'online') this.lostAt = this.now();
    if (link.phase === 'online') this.lostAt = null;
    this.emit('link', link);
  }

  receive(msg) {
    if (msg.type === 'reauthed') {
      this.emit('reauthed', msg);
      return;
    }
    if (msg.type === 'welcome' && typeof msg.server_time === 'number') {
      this.conn.offset = msg.server_time - Date.now();
    }
    if (msg.type === 'welcome') {
      this.activityInterval = msg.activity_interval ?? null;
      this.activitySentAt = null;
    }
    const known = new Set(this.state.offers.map((o) => o.offerId));
    this.changed(reduce(this.state, msg, this.now()), msg);
    if (msg.type === 'welcome') this.conn.online(msg.heartbeat);
    for (const o of this.state.offers) if (!known.has(o.offerId)) this.emit('offer', o);
    this.settle(msg);
  }

  settle(msg) {
    const waiter = msg.ref === undefined || msg.ref === null ? null : this.waiting.get(msg.ref);
    if (!waiter || (msg.type !== 'ack' && msg.type !== 'error')) return;
    this.waiting.delete(msg.ref);
    if (msg.type === 'ack') waiter.resolve(msg);
    else waiter.reject(Object.assign(new Error(msg.message || msg.code), { code: msg.code }));
  }
}
