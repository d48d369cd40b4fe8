// The embeddable agent client: one framework-free ES module that signs an agent in on
// /ws/agent, keeps its presence, offers and sessions (js/agent-state.js), sends pings at
// the interval the server announces, reconnects by the close-code rules (js/link.js), and
// lets the host page change presence and answer offers. The agent page runs on it; a CRM's
// agent desktop imports it the same way (docs/client.md). No DOM: it needs only WebSocket,
// timers and EventTarget, so it also runs under node (static/tests/presence-client.test.mjs).
import { activityDue } from './activity.js';
import { initialAgentState, reduce, request } from './agent-state.js';
import { initialLink, linkClosed, linkConnecting, linkOnline, linkStopped } from './link.js';
import { clockOffset } from './time.js';

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Options of a PresenceClient.
 * @typedef {{url: string, token: string, WebSocket?: typeof WebSocket,
 *   every?: (ms: number, fn: () => void) => () => void, random?: () => number}} ClientOptions
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
    random = Math.random }) {
    super();
    this.url = agentSocketUrl(url);
    this.token = token;
    this.Socket = Socket;
    this.every = every;
    this.random = random;
    /** @type {import('./agent-state.js').AgentState} */
    this.state = initialAgentState();
    /** @type {import('./link.js').Link} */
    this.link = initialLink();
    /** Server-clock ms when the socket was lost (null while connected). */
    this.lostAt = null;
    this.offset = 0;
    this.ws = null;
    this.refs = 0;
    this.waiting = new Map();
    this.pings = new Map();
    this.heartbeat = { interval: 10, timeout: 30 };
    this.lastHeardAt = 0;
    /** @type {number | null} seconds, from `welcome` */
    this.activityInterval = null;
    /** @type {number | null} ms of the last activity frame on this link */
    this.activitySentAt = null;
    this.lastError = '';
    this.retryTimer = null;
    this.stopPings = () => {};
  }

  /**
   * Server-clock now in ms (measured from pong).
   * @returns {number}
   */
  now() {
    return Date.now() + this.offset;
  }

  /**
   * Open the socket and sign in (again: from the start, e.g. after a stop).
   * @returns {void}
   */
  connect() {
    this.link = initialLink();
    this.open();
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
    if (this.link.phase === 'reconnecting') this.open();
  }

  /**
   * Close on purpose; nothing reconnects until connect().
   * @param {import('./link.js').Stop | null} [stop]
   * @returns {void}
   */
  stop(stop = null) {
    clearTimeout(this.retryTimer);
    this.detach();
    this.setLink(linkStopped(this.link, stop));
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
    if (this.link.phase !== 'online') return false;
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

  setLink(link) {
    const lost = link.phase !== 'online' && this.link.phase === 'online';
    if (lost) this.lostAt = this.now();
    if (link.phase === 'online') this.lostAt = null;
    this.link = link;
    this.emit('link', link);
  }

  open() {
    clearTimeout(this.retryTimer);
    this.detach();
    this.lastError = '';
    const ws = new this.Socket(this.url);
    this.ws = ws;
    this.setLink(linkConnecting(this.link));
    ws.onopen = () => this.send({ type: 'auth', token: this.token });
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
    if (msg.type === 'pong') this.measure(msg);
    if (msg.type === 'reauthed') {
      this.emit('reauthed', msg);
      return;
    }
    if (msg.type === 'error' && msg.ref === null) this.lastError = msg.message ?? '';
    if (msg.type === 'welcome' && typeof msg.server_time === 'number') {
      this.offset = msg.server_time - Date.now();
    }
    if (msg.type === 'welcome') {
      this.activityInterval = msg.activity_interval ?? null;
      this.activitySentAt = null;
    }
    const known = new Set(this.state.offers.map((o) => o.offerId));
    this.changed(reduce(this.state, msg, this.now()), msg);
    if (msg.type === 'welcome') this.online(msg.heartbeat);
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

  measure(msg) {
    const sentAt = this.pings.get(msg.ref);
    this.pings.delete(msg.ref);
    if (sentAt !== undefined && typeof msg.t === 'number') {
      this.offset = clockOffset(sentAt, Date.now(), msg.t);
    }
  }

  online(heartbeat) {
    if (heartbeat) this.heartbeat = heartbeat;
    this.setLink(linkOnline(this.link));
    this.ping();
    this.stopPings();
    this.stopPings = this.every(Math.min(this.heartbeat.interval * 1000, MAX_TIMER_MS),
      () => this.beat());
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
    for (const waiter of this.waiting.values()) waiter.reject(new Error('Connection lost'));
    this.waiting.clear();
    const next = linkClosed(this.link, code, this.lastError, Date.now(), this.random);
    this.setLink(next);
    if (next.phase === 'reconnecting') {
      this.retryTimer = setTimeout(() => this.open(), Math.max(0, next.retryAt - Date.now()));
    }
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
