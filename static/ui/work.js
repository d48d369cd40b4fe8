// Offer cards and open sessions on the agent page, rendered by key so that a card keeps
// its focus and its half-filled reject form while other cards come and go.
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

function details(payload) {
  const rows = summarizePayload(payload);
  if (!rows.length) return null;
  return h('dl', { class: 'details' }, rows.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })]));
}

function offerCard(offer, act) {
  const item = offer.workItem;
  const titleId = `offer-${offer.offerId}-title`;
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
  const card = h('article', { class: 'offer', dataset: { offerId: offer.offerId, state: 'open' }, 'aria-labelledby': titleId },
    h('header', { class: 'offer-head' },
      h('span', { class: 'tag', text: item.channel ?? 'work' }),
      h('h3', { id: titleId, class: 'offer-title' }, item.workstream ?? 'New work item',
        item.id ? h('span', { class: 'item-id', text: item.id }) : null),
      h('span', { class: 'countdown', role: 'timer', 'aria-label': 'Time left to answer' })),
    details(item.payload),
    h('progress', { class: 'offer-progress', max: '1', value: '1', 'aria-hidden': 'true' }),
    h('div', { class: 'row offer-actions' },
      h('button', { type: 'button', class: 'btn btn-primary', dataset: { action: 'accept' }, text: 'Accept' }),
      h('button', { type: 'button', class: 'btn', dataset: { action: 'reject' }, text: 'Reject' })),
    form,
    h('p', { class: 'offer-error', role: 'alert', hidden: true }));
  card.querySelector('[data-action="accept"]').addEventListener('click', () => act('accept', offer.offerId));
  card.querySelector('[data-action="reject"]').addEventListener('click', () => {
    form.hidden = false;
    setData(card, 'state', 'reject-form');
    reason.focus();
  });
  card.querySelector('[data-action="cancel-reject"]').addEventListener('click', () => {
    form.hidden = true;
    setData(card, 'state', 'open');
    card.querySelector('[data-action="reject"]').focus();
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const why = reason.value === 'Other' ? other.value.trim() || 'Other' : reason.value;
    act('reject', offer.offerId, why);
  });
  return card;
}

/**
 * Keyed render of the offer cards.
 * @param {HTMLElement} root the offers list
 * @param {import('../js/agent-state.js').AgentState} state
 * @param {(kind: string, id: string, reason?: string) => void} act
 * @returns {void}
 */
export function renderOffers(root, state, act) {
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
    const busy = offer.pending !== null;
    if (busy) setData(card, 'state', offer.pending === 'accept' ? 'accepting' : 'rejecting');
    else if (card.dataset.state !== 'reject-form') setData(card, 'state', offer.error ? 'error' : 'open');
    for (const b of card.querySelectorAll('button')) b.disabled = busy;
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
  const button = h('button', { type: 'button', class: 'btn btn-small', dataset: { action: 'close-work' },
    text: 'Close', 'aria-label': `Close ${s.workstream ?? s.workItemId}` });
  button.addEventListener('click', () => act('close_work', s.workItemId));
  return h('li', { class: 'session', dataset: { workItemId: s.workItemId } },
    h('div', { class: 'session-main' },
      h('span', { class: 'tag', text: s.channel ?? 'work' }),
      h('strong', { text: s.workstream ?? s.workItemId }),
      h('span', { class: 'muted session-since' })),
    details(s.payload),
    button);
}

/**
 * Keyed render of the open sessions.
 * @param {HTMLElement} root the sessions list
 * @param {import('../js/agent-state.js').AgentState} state
 * @param {(kind: string, id: string) => void} act
 * @returns {void}
 */
export function renderSessions(root, state, act) {
  const wanted = new Set(state.sessions.map((s) => s.workItemId));
  for (const li of [...root.children]) if (!wanted.has(li.dataset.workItemId)) li.remove();
  for (const s of state.sessions) {
    let li = root.querySelector(`[data-work-item-id="${CSS.escape(s.workItemId)}"]`);
    if (!li) {
      li = sessionItem(s, act);
      root.append(li);
    }
    setData(li, 'closing', s.closing ? 'true' : null);
    li.querySelector('button').disabled = s.closing;
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
