// Offer cards and open sessions on the agent page, rendered by key so that a card keeps
// its focus and its half-filled reject form while other cards come and go.
import { offerExpired } from '../js/agent-state.js';
import { SHORTCUTS, headline } from '../js/offer-view.js';
import { summarizePayload } from '../js/statuses.js';
import { clockTime, formatDuration, secondsLeft } from '../js/time.js';
import { h, setData, setText } from './dom.js';

const REJECT_REASONS = [
  'Busy with another customer',
  'Not the right skill for this',
  'Stepping away',
  'Technical problem',
  'Other',
];

function details(payload, skip = []) {
  const rest = Object.fromEntries(Object.entries(payload ?? {}).filter(([k]) => !skip.includes(k)));
  const rows = summarizePayload(rest);
  if (!rows.length) return null;
  return h('dl', { class: 'details' }, rows.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })]));
}

function shortcut(label) {
  return h('kbd', { class: 'kbd', 'aria-hidden': 'true', text: label });
}

function rejectForm(card) {
  const reason = h('select', { name: 'reason', 'aria-label': 'Reason for rejecting' },
    REJECT_REASONS.map((r) => h('option', { value: r, text: r })));
  const other = h('input', { name: 'other', type: 'text', maxlength: '200', placeholder: 'Describe the reason',
    'aria-label': 'Other reason', hidden: true });
  reason.addEventListener('change', () => { other.hidden = reason.value !== 'Other'; });
  const form = h('form', { class: 'reject-form', hidden: true },
    reason, other,
    h('div', { class: 'row' },
      h('button', { type: 'submit', class: 'btn btn-danger', dataset: { action: 'confirm-reject' }, text: 'Reject offer' }),
      h('button', { type: 'button', class: 'btn btn-quiet', dataset: { action: 'cancel-reject' }, text: 'Cancel' })));
  form.querySelector('[data-action="cancel-reject"]').addEventListener('click', () => {
    form.hidden = true;
    setData(card, 'state', 'open');
    card.querySelector('[data-action="reject"]').focus();
  });
  return { form, reason, other };
}

function offerCard(offer, act) {
  const item = offer.workItem;
  const head = headline(item);
  const titleId = `offer-${offer.offerId}-title`;
  const card = h('article', { class: 'offer', tabindex: '-1', dataset: { offerId: offer.offerId, state: 'open' },
    'aria-labelledby': titleId });
  const { form, reason, other } = rejectForm(card);
  card.append(
    h('header', { class: 'offer-head' },
      h('span', { class: 'tag', text: item.channel ?? 'work' }),
      h('h3', { id: titleId, class: 'offer-title' },
        h('span', { class: 'offer-ws', text: head.title }),
        head.subtitle ? h('span', { class: 'offer-headline', text: head.subtitle }) : null),
      h('span', { class: 'countdown', role: 'timer', 'aria-label': 'Time left to answer' })),
    details(item.payload, head.fields),
    h('progress', { class: 'offer-progress', max: '1', value: '1', 'aria-hidden': 'true' }),
    h('p', { class: 'offer-wait', hidden: true }),
    h('div', { class: 'row offer-actions' },
      h('button', { type: 'button', class: 'btn btn-primary', dataset: { action: 'accept' },
        'aria-keyshortcuts': SHORTCUTS.accept.label }, 'Accept ', shortcut(SHORTCUTS.accept.label)),
      h('button', { type: 'button', class: 'btn', dataset: { action: 'reject' },
        'aria-keyshortcuts': SHORTCUTS.reject.label }, 'Reject ', shortcut(SHORTCUTS.reject.label))),
    form,
    h('p', { class: 'offer-error', role: 'alert', hidden: true }),
    item.id ? h('p', { class: 'item-id' }, h('small', { text: `Item ${item.id} · offer ${offer.offerId}` })) : null);
  card.querySelector('[data-action="accept"]').addEventListener('click', () => act('accept', offer.offerId));
  card.querySelector('[data-action="reject"]').addEventListener('click', () => {
    form.hidden = false;
    setData(card, 'state', 'reject-form');
    reason.focus();
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const why = reason.value === 'Other' ? other.value.trim() || 'Other' : reason.value;
    act('reject', offer.offerId, why);
  });
  return card;
}

function cardState(card, offer, expired) {
  if (offer.pending !== null) return offer.pending === 'accept' ? 'accepting' : 'rejecting';
  if (expired) return 'expired';
  if (card.dataset.state === 'reject-form') return 'reject-form';
  return offer.error ? 'error' : 'open';
}

/**
 * Keyed render of the offer cards. While the page is not connected, or once an offer's
 * time is up (until the server closes it), its answers are disabled and the card says why.
 * @param {HTMLElement} root the offers list
 * @param {import('../js/agent-state.js').AgentState} state
 * @param {(kind: string, id: string, reason?: string) => void} act
 * @param {{online: boolean, now: number}} view whether the socket is online; server-clock ms
 * @returns {void}
 */
export function renderOffers(root, state, act, { online, now }) {
  const wanted = new Map(state.offers.map((o) => [o.offerId, o]));
  for (const card of [...root.children]) {
    if (!wanted.has(card.dataset.offerId)) card.remove();
  }
  for (const offer of state.offers) {
    let card = root.querySelector(`[data-offer-id="${CSS.escape(offer.offerId)}"]`);
    if (!card) {
      card = offerCard(offer, act);
      root.append(card);
    }
    const expired = offerExpired(offer, now);
    const next = cardState(card, offer, expired);
    setData(card, 'state', next);
    setData(card, 'waiting', online ? null : 'true');
    if (next === 'expired') card.querySelector('.reject-form').hidden = true;
    for (const b of card.querySelectorAll('button')) b.disabled = offer.pending !== null || !online || expired;
    const wait = card.querySelector('.offer-wait');
    const why = !online ? 'Waiting for connection…' : expired ? 'Time is up: waiting for the server…' : '';
    wait.hidden = !why;
    setText(wait, why);
    const error = card.querySelector('.offer-error');
    error.hidden = !offer.error;
    setText(error, offer.error ?? '');
  }
  setData(root, 'count', state.offers.length);
}

/**
 * Once a second: countdowns and progress bars of the offers.
 * @param {HTMLElement} root
 * @param {import('../js/agent-state.js').AgentState} state
 * @param {number} now server-clock ms
 * @returns {void}
 */
export function tickOffers(root, state, now) {
  for (const offer of state.offers) {
    const card = root.querySelector(`[data-offer-id="${CSS.escape(offer.offerId)}"]`);
    if (!card) continue;
    const progress = card.querySelector('progress');
    progress.hidden = offer.expiresAt === null;
    if (offer.expiresAt === null) continue;
    const left = secondsLeft(offer.expiresAt, now);
    const total = Math.max(1, offer.expiresAt - offer.receivedAt);
    setText(card.querySelector('.countdown'), formatDuration(left * 1000));
    setData(card, 'secondsLeft', left);
    setData(card, 'urgent', left <= 10 ? 'true' : null);
    progress.value = Math.max(0, (offer.expiresAt - now) / total);
  }
}

function sessionItem(s, act) {
  const head = headline(s.summary);
  const name = head.subtitle ? `${head.title}: ${head.subtitle}` : head.title;
  const button = h('button', { type: 'button', class: 'btn btn-small', dataset: { action: 'close-work' },
    text: 'Close', 'aria-label': `Close ${name}` });
  button.addEventListener('click', () => act('close_work', s.workItemId));
  return h('li', { class: 'session', dataset: { workItemId: s.workItemId } },
    h('div', { class: 'session-main' },
      h('span', { class: 'tag', text: s.channel ?? 'work' }),
      h('strong', { text: head.title }),
      head.subtitle ? h('span', { class: 'session-headline', text: head.subtitle }) : null,
      h('span', { class: 'muted session-since' })),
    details(s.payload, head.fields),
    h('p', { class: 'item-id' }, h('small', { text: `Item ${s.workItemId}` })),
    button);
}

/**
 * Keyed render of the open sessions.
 * @param {HTMLElement} root the sessions list
 * @param {import('../js/agent-state.js').AgentState} state
 * @param {(kind: string, id: string) => void} act
 * @param {boolean} [online] whether the socket is online (Close is disabled otherwise)
 * @returns {void}
 */
export function renderSessions(root, state, act, online = true) {
  const wanted = new Set(state.sessions.map((s) => s.workItemId));
  for (const li of [...root.children]) if (!wanted.has(li.dataset.workItemId)) li.remove();
  for (const s of state.sessions) {
    let li = root.querySelector(`[data-work-item-id="${CSS.escape(s.workItemId)}"]`);
    if (!li) {
      li = sessionItem(s, act);
      root.append(li);
    }
    setData(li, 'closing', s.closing ? 'true' : null);
    li.querySelector('button').disabled = s.closing || !online;
  }
  setData(root, 'count', state.sessions.length);
}

/**
 * Once a second: how long each session has been open.
 * @param {HTMLElement} root
 * @param {import('../js/agent-state.js').AgentState} state
 * @param {number} now server-clock ms
 * @returns {void}
 */
export function tickSessions(root, state, now) {
  for (const s of state.sessions) {
    const li = root.querySelector(`[data-work-item-id="${CSS.escape(s.workItemId)}"]`);
    if (!li || !s.acceptedAt) continue;
    setText(li.querySelector('.session-since'),
      `since ${clockTime(s.acceptedAt)} · ${formatDuration(now - s.acceptedAt)}`);
  }
}
