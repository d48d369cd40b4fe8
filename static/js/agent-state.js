// The agent page's state: a pure reducer over server messages and local requests.
// Presence updates are applied only when newer, by (epoch, version), than what is shown.
import { isNewer } from './stamp.js';

/**
 * A presence P as the server sends it (docs/protocol.md).
 * @typedef {{status_id: string, text: string, base: string, source: string, reason?: string,
 *   actor?: string | null, note?: string | null, since: number, version: number,
 *   epoch?: number}} Presence
 */
/**
 * An offer on the page; `pending` is the request in flight ('accept' | 'reject').
 * @typedef {{offerId: string, workItem: object, expiresAt: number | null, receivedAt: number,
 *   pending: string | null, error: string | null}} Offer
 */
/**
 * An open work session.
 * @typedef {{workItemId: string, workstream: string, channel: string, payload: object,
 *   acceptedAt: number | null, closing: boolean, summary: object}} Session
 */
/**
 * A request sent and not yet answered.
 * @typedef {{kind: 'presence' | 'accept' | 'reject' | 'close_work', statusId?: string,
 *   offerId?: string, workItemId?: string}} Request
 */
/** @typedef {{level: 'error' | 'info' | 'warn', text: string}} Notice */
/**
 * The agent page's state (changed only by the functions of this module).
 * @typedef {{agentId: string | null, name: string, connectionId: string | null,
 * presence: Presence | null, statuses: object[], heartbeat: object | null,
 * gracePeriod: number | null, offers: Offer[], sessions: Session[],
 * pending: Object<string, Request>, notice: Notice | null}} AgentState
 * @returns {AgentState}
 */
export function initialAgentState() {
  return {
    agentId: null,
    name: '',
    connectionId: null,
    presence: null,
    statuses: [],
    heartbeat: null,
    gracePeriod: null,
    offers: [], // [{offerId, workItem, expiresAt, receivedAt, pending, error}]
    sessions: [], // [{workItemId, workstream, channel, payload, acceptedAt, closing}]
    pending: {}, // ref -> {kind, statusId?, offerId?, workItemId?}
    notice: null, // {level: 'error' | 'info', text}
  };
}

/** An offer without a deadline (expires_at null) stays until the server closes it. */
function live(o, now) {
  return o.expiresAt === null || o.expiresAt === undefined || o.expiresAt > now;
}

function newer(current, incoming) {
  return !incoming || isNewer(incoming, current);
}

function session(s) {
  return {
    workItemId: s.work_item_id,
    workstream: s.workstream,
    channel: s.channel,
    payload: s.payload ?? {},
    acceptedAt: s.accepted_at ?? null,
    closing: false,
    summary: s,
  };
}

function offer(msg, now) {
  return {
    offerId: msg.offer_id,
    workItem: msg.work_item ?? {},
    expiresAt: msg.expires_at ?? null,
    receivedAt: now,
    pending: null,
    error: null,
  };
}

const OUTCOME_TEXT = {
  accepted: 'Offer accepted.',
  rejected: 'Offer rejected.',
  missed: 'Offer missed: it timed out.',
  withdrawn: 'Offer withdrawn.',
};

/**
 * Apply one server message; `now` is server-clock ms. Returns the next state.
 * @param {AgentState} state
 * @param {object} msg a server message (docs/protocol.md)
 * @param {number} [now] server-clock ms
 * @returns {AgentState}
 */
export function reduce(state, msg, now = 0) {
  switch (msg.type) {
    case 'welcome': {
      const offers = Array.isArray(msg.offers)
        ? msg.offers.map((o) => offer(o, now))
        : state.offers.filter((o) => live(o, now)).map((o) => ({ ...o, pending: null }));
      return {
        ...state,
        agentId: msg.agent_id,
        name: msg.name,
        connectionId: msg.connection_id,
        presence: msg.presence,
        statuses: msg.statuses ?? [],
        heartbeat: msg.heartbeat ?? null,
        gracePeriod: msg.grace_period ?? null,
        sessions: Array.isArray(msg.sessions) ? msg.sessions.map(session) : state.sessions,
        offers,
        pending: {},
        notice: null,
      };
    }
    case 'presence':
      return newer(state.presence, msg.presence) ? { ...state, presence: msg.presence } : state;
    case 'ack': {
      const { [msg.ref]: req, ...pending } = state.pending;
      let next = { ...state, pending, notice: null };
      if (msg.presence && newer(state.presence, msg.presence)) {
        next.presence = msg.presence;
      }
      if (req?.kind === 'accept' || req?.kind === 'reject') {
        next = { ...next, offers: next.offers.filter((o) => o.offerId !== req.offerId) };
        next.notice = { level: 'info', text: OUTCOME_TEXT[`${req.kind}ed`] };
      }
      return next;
    }
    case 'error': {
      const { [msg.ref]: req, ...pending } = state.pending;
      const notice = { level: 'error', text: msg.message || msg.code || 'Something went wrong.' };
      const next = { ...state, pending, notice };
      if (req?.offerId) {
        next.offers = state.offers.map((o) => (o.offerId === req.offerId
          ? { ...o, pending: null, error: notice.text } : o));
      }
      if (req?.workItemId) {
        next.sessions = state.sessions.map((s) => (s.workItemId === req.workItemId
          ? { ...s, closing: false } : s));
      }
      return next;
    }
    case 'offer': {
      const others = state.offers.filter((o) => o.offerId !== msg.offer_id);
      return { ...state, offers: [...others, offer(msg, now)] };
    }
    case 'offer_closed': {
      if (!state.offers.some((o) => o.offerId === msg.offer_id)) return state;
      const text = OUTCOME_TEXT[msg.outcome] ?? 'Offer closed.';
      return {
        ...state,
        offers: state.offers.filter((o) => o.offerId !== msg.offer_id),
        notice: { level: msg.outcome === 'accepted' ? 'info' : 'warn', text },
      };
    }
    case 'sessions':
      return { ...state, sessions: (msg.sessions ?? []).map(session) };
    default:
      return state;
  }
}

/**
 * Record a request sent with `ref`: {kind: 'presence', statusId} | {kind: 'accept', offerId}
 * | {kind: 'reject', offerId} | {kind: 'close_work', workItemId}.
 * @param {AgentState} state
 * @param {number} ref
 * @param {Request} req
 * @returns {AgentState}
 */
export function request(state, ref, req) {
  const next = { ...state, pending: { ...state.pending, [ref]: req }, notice: null };
  if (req.offerId) {
    next.offers = state.offers.map((o) => (o.offerId === req.offerId
      ? { ...o, pending: req.kind, error: null } : o));
  }
  if (req.workItemId) {
    next.sessions = state.sessions.map((s) => (s.workItemId === req.workItemId
      ? { ...s, closing: true } : s));
  }
  return next;
}

/**
 * The status id being requested, if a presence change is in flight.
 * @param {AgentState} state
 * @returns {string | null}
 */
export function pendingStatus(state) {
  const req = Object.values(state.pending).find((r) => r.kind === 'presence');
  return req ? req.statusId : null;
}

/**
 * Whether an offer's deadline passed. The card stays (answers disabled) until the server
 * closes the offer (`offer_closed`, outcome `missed`): the page never drops it itself.
 * @param {Offer} offer
 * @param {number} now server-clock ms
 * @returns {boolean}
 */
export function offerExpired(offer, now) {
  return !live(offer, now);
}

/**
 * A notice faded out: clear it, unless another one replaced it meanwhile.
 * @param {AgentState} state
 * @param {Notice} notice the notice that was shown
 * @returns {AgentState}
 */
export function dismissNotice(state, notice) {
  return state.notice === notice ? { ...state, notice: null } : state;
}

/**
 * A sentence for screen readers when the presence changed from `before` to `after`.
 * @param {Presence | null} before
 * @param {Presence | null} after
 * @returns {string} empty when nothing worth saying changed
 */
export function announcement(before, after) {
  if (!after || (before && before.status_id === after.status_id
    && before.source === after.source)) return '';
  const by = after.source === 'supervisor' ? ` by ${after.actor ?? 'a supervisor'}`
    : after.source === 'system' ? ' by the system' : '';
  return `Status is now ${after.text}${by}.`;
}
