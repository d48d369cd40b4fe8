// What the agent page says about offers and its connection: card headlines, the tab title
// while an offer waits, the assertive announcement, keyboard shortcuts, the agent's standing
// on the server while the socket is down, a sign-out's who and why. Pure: no DOM, no I/O.
import { formatDuration, secondsLeft } from './time.js';

/** Payload fields that head a card when the summary names none (the server's default). */
export const DEFAULT_HEADLINE_FIELDS = Object.freeze(['customer', 'subject']);

/** Keyboard shortcuts of the pending offer: `event.code` with Alt. */
export const SHORTCUTS = Object.freeze({
  accept: { code: 'KeyA', label: 'Alt+A' },
  reject: { code: 'KeyR', label: 'Alt+R' },
});

/**
 * The headline of a work item's card: the workstream's name, then the payload's headline
 * fields (the workstream's `headline_fields`) that have a value.
 * @param {{workstream?: string, workstream_name?: string, headline_fields?: string[],
 *   payload?: object, id?: string}} item a work item summary
 * @returns {{title: string, subtitle: string, fields: string[]}}
 */
export function headline(item) {
  const fields = Array.isArray(item.headline_fields) ? item.headline_fields
    : DEFAULT_HEADLINE_FIELDS;
  const payload = item.payload ?? {};
  const values = fields
    .map((f) => payload[f])
    .filter((v) => (typeof v === 'string' && v.trim() !== '') || typeof v === 'number')
    .map((v) => String(v).trim());
  return {
    title: item.workstream_name || item.workstream || 'New work item',
    subtitle: values.join(' · '),
    fields: [...fields],
  };
}

/**
 * The tab title: while an offer waits, its seconds left and workstream first.
 * @param {import('./agent-state.js').AgentState} state
 * @param {number} now server-clock ms
 * @returns {string}
 */
export function pageTitle(state, now) {
  const base = state.name ? `${state.name} · Presence` : 'Presence · Agent';
  const offer = state.offers.find((o) => o.pending === null);
  if (!offer) return base;
  const name = headline(offer.workItem).title;
  if (offer.expiresAt === null) return `Offer: ${name} · ${base}`;
  const left = secondsLeft(offer.expiresAt, now);
  return left > 0 ? `(${left} s) Offer: ${name} · ${base}` : `Offer ended: ${name} · ${base}`;
}

/**
 * The assertive sentence when an offer arrives: channel, customer (headline), time left,
 * and the shortcuts.
 * @param {import('./agent-state.js').Offer} offer
 * @param {number} now server-clock ms
 * @returns {string}
 */
export function offerAnnouncement(offer, now) {
  const item = offer.workItem ?? {};
  const { title, subtitle } = headline(item);
  const channel = item.channel ? `${item.channel} ` : '';
  const from = subtitle ? ` from ${subtitle}` : '';
  const time = offer.expiresAt === null ? ''
    : ` ${secondsLeft(offer.expiresAt, now)} seconds to answer.`;
  return `New ${channel}offer: ${title}${from}.${time} `
    + `${SHORTCUTS.accept.label} accepts, ${SHORTCUTS.reject.label} rejects.`;
}

/**
 * The offer action a key press asks for, if any.
 * @param {{code: string, altKey: boolean, ctrlKey: boolean, metaKey: boolean, shiftKey: boolean}} event
 * @returns {'accept' | 'reject' | null}
 */
export function shortcutAction(event) {
  if (!event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return null;
  if (event.code === SHORTCUTS.accept.code) return 'accept';
  if (event.code === SHORTCUTS.reject.code) return 'reject';
  return null;
}

/**
 * The offer the shortcuts act on: the oldest one not already being answered.
 * @param {import('./agent-state.js').AgentState} state
 * @param {number} now server-clock ms
 * @returns {import('./agent-state.js').Offer | null}
 */
export function actionableOffer(state, now) {
  return state.offers.find((o) => o.pending === null
    && (o.expiresAt === null || o.expiresAt > now)) ?? null;
}

/**
 * The agent's standing on the server while this page's socket is down: Offline, its
 * status restored if it is back within the grace period, signed out after that.
 * @param {{presence: import('./agent-state.js').Presence | null, gracePeriod: number | null}} state
 * @param {number | null} lostAt server-clock ms when the socket was lost
 * @param {number} now server-clock ms
 * @returns {{kind: 'grace' | 'signed-out' | 'unknown', until: number | null, text: string}}
 */
export function standing(state, lostAt, now) {
  const p = state.presence;
  if (!p || lostAt === null || state.gracePeriod === null) {
    return { kind: 'unknown', until: null, text: 'Waiting for connection…' };
  }
  if (p.base === 'offline') {
    return { kind: 'signed-out', until: null, text: 'Waiting for connection… You are Offline.' };
  }
  const until = lostAt + state.gracePeriod * 1000;
  if (now >= until) {
    return {
      kind: 'signed-out',
      until,
      text: `Waiting for connection… The grace period ended: the server signed you out `
        + `(Offline). Your status starts afresh when you are back.`,
    };
  }
  return {
    kind: 'grace',
    until,
    text: `Waiting for connection… The server shows you as Offline. Back within `
      + `${formatDuration(until - now)} and ${p.text} is restored; after that you are signed out.`,
  };
}

/**
 * Why the server signed this agent out (close 4010), from the last presence it sent.
 * @param {import('./agent-state.js').Presence | null} presence
 * @returns {string}
 */
export function signedOutText(presence) {
  if (presence?.source === 'supervisor' || presence?.reason === 'supervisor') {
    const who = presence.actor || 'a supervisor';
    const why = presence.note ? `: “${presence.note}”` : '.';
    return `Signed out by ${who}${why}`;
  }
  if (presence?.reason === 'signed_out') return 'You signed out (on this or another tab).';
  return 'You were signed out (from another tab or by a supervisor).';
}
