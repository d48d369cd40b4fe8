// The agent page: current presence, the picker, offers, open sessions.
// It runs on the embeddable client (js/presence-client.js): the socket, the state and the
// requests are the client's; this module renders them and adds the page's alerts.
import { announcement, dismissNotice, initialAgentState, pendingStatus } from '../js/agent-state.js';
import {
  actionableOffer, headline, offerAnnouncement, pageTitle, shortcutAction, signedOutText, standing,
} from '../js/offer-view.js';
import { PresenceClient } from '../js/presence-client.js';
import { BASE_LABELS, isCustom, pickerGroups, sourceText } from '../js/statuses.js';
import { nextStatusText } from '../js/activity.js';
import { formatDuration } from '../js/time.js';
import { Alerts } from './alerts.js';
import { $, announce, h, setData, setText } from './dom.js';
import { forgetToken } from './auth.js';
import { renderOffers, renderSessions, tickOffers, tickSessions } from './work.js';
import { Shell } from './shell.js';
import { providerSignOut } from './sso.js';
import { every } from './ticker.js';

let state = initialAgentState();
let signingOut = false;
let pickerKey = '';
const shell = new Shell('agent', start);
const alerts = new Alerts((offerId) => focusOffer(offerId));
// A renewed token (ui/sso.js) is presented to the open socket and used for reconnects.
shell.renewed = (token) => {
  shell.token = token;
  shell.channel?.renew(token);
};

function start(token) {
  shell.token = token;
  if (!shell.channel) {
    const client = new PresenceClient({ url: location.href, token, every });
    client.addEventListener('change', (e) => receive(e.detail));
    client.addEventListener('link', (e) => linkChanged(e.detail));
    client.addEventListener('offer', (e) => offered(e.detail));
    client.addEventListener('reauthed', () => {
      const body = document.body.dataset; // counted for tests and support
      body.tokenRenewals = String(Number(body.tokenRenewals ?? 0) + 1);
    });
    addEventListener('online', () => client.retryNow());
    shell.channel = client;
  }
  shell.channel.token = token;
  shell.channel.connect();
}

const online = () => shell.channel?.link.phase === 'online';

function linkChanged(link) {
  if (link.phase === 'stopped' && signingOut) {
    signingOut = false;
    if (providerSignOut('agent')) return;
    shell.askForToken('Signed out.', 'You signed out on every tab. Sign in again to go back online.');
    return;
  }
  const stop = link.stop?.code === 4010 ? { ...link.stop, message: signedOutText(state.presence) } : link.stop;
  shell.render({ ...link, stop });
  $('#sign-out').hidden = link.phase === 'stopped' || link.phase === 'idle';
  if (state.presence) render();
}

function receive({ state: next, message }) {
  const before = state.presence;
  const closed = state.offers.filter((o) => !next.offers.some((n) => n.offerId === o.offerId));
  state = next;
  for (const o of closed) alerts.closed(o.offerId);
  if (message?.type === 'welcome') {
    $('#main').hidden = false;
    setText($('#who'), `${state.name} · ${state.agentId}`);
  }
  if (message?.type !== 'pong') render();
  if (message && message.type !== 'welcome') announce($('#live'), announcement(before, state.presence));
}

/** A new offer: ring, notify a hidden tab, say it assertively, and bring it to focus. */
function offered(offer) {
  const now = shell.channel.now();
  const sentence = offerAnnouncement(offer, now);
  const head = headline(offer.workItem);
  alerts.offered(offer, `${head.title}${head.subtitle ? `: ${head.subtitle}` : ''}`, sentence);
  announce($('#alert-live'), sentence);
  const typing = document.activeElement?.matches('input, textarea, select, [contenteditable]');
  if (document.hasFocus() && !typing) focusOffer(offer.offerId);
}

function focusOffer(offerId) {
  $(`#offers [data-offer-id="${CSS.escape(offerId)}"]`)?.focus();
}

function act(kind, id, reason = '') {
  const client = shell.channel;
  const done = { accept: () => client.accept(id), reject: () => client.reject(id, reason),
    close_work: () => client.closeWork(id) }[kind]();
  done.catch(() => {}); // errors are shown from the state (notice, offer error)
}

function render() {
  const now = shell.channel?.now() ?? Date.now();
  renderPresence();
  renderPicker();
  renderNotice();
  renderStanding(now);
  renderOffers($('#offers'), state, act, { online: online(), now });
  renderSessions($('#sessions'), state, act, online());
  $('#offers-wait').hidden = online() || state.offers.length === 0;
  $('#picker-wait').hidden = online();
  $('#inactive-next').hidden = !(online() && state.presence?.base === 'inactive');
  setText($('#offers-count'), String(state.offers.length));
  setText($('#sessions-count'), String(state.sessions.length));
  $('#offers-empty').hidden = state.offers.length > 0;
  $('#sessions-empty').hidden = state.sessions.length > 0;
  tick();
}

/** While the socket is down: what the server holds (Offline, restored within the grace
 *  period, signed out after it). */
function renderStanding(now) {
  const el = $('#standing');
  const down = !online() && state.presence !== null && shell.channel?.link.phase !== 'stopped';
  el.hidden = !down;
  setData($('#presence'), 'connection', down ? 'lost' : null);
  if (!down) return;
  const s = standing(state, shell.channel.lostAt, now);
  setData(el, 'kind', s.kind);
  setData(el, 'until', s.until);
  setText(el, s.text);
}

function renderPresence() {
  const p = state.presence;
  if (!p) return;
  const el = $('#presence');
  setData(el, 'statusId', p.status_id);
  setData(el, 'base', p.base);
  setData(el, 'source', p.source);
  setData(el, 'version', p.version);
  setData(el, 'epoch', p.epoch ?? 0);
  setText($('#presence-text'), p.text);
  const showBase = isCustom(p.status_id) || p.text !== BASE_LABELS[p.base];
  setText($('#presence-base'), showBase ? `Counts as ${BASE_LABELS[p.base]}` : '');
  setText($('#presence-source'), sourceText(p));
  setData(el, 'reason', p.reason);
  setData(el, 'nextStatusId', p.next_status_id ?? null);
  const next = nextStatusText(p, state.statuses);
  $('#next-status').hidden = !next;
  setText($('#next-status-text'), next);
  $('#next-mode-label').hidden = state.sessions.length === 0;
}

function renderPicker() {
  const root = $('#picker');
  const groups = pickerGroups(state.statuses, state.presence);
  const key = JSON.stringify(groups.map((g) => g.items.map((i) => i.id)));
  if (key !== pickerKey) {
    pickerKey = key;
    root.replaceChildren(...groups.map((g) => h('div', { class: 'pick-group', dataset: { base: g.base } },
      h('div', { class: 'pick-group-label', dataset: { base: g.base } }, h('span', { class: 'mark', 'aria-hidden': 'true' }), g.label),
      ...g.items.map((item) => h('button', {
        type: 'button',
        class: 'pick',
        dataset: { statusId: item.id, base: item.base, custom: item.custom ? 'true' : null },
        onclick: () => pick(item.id),
      }, h('span', { class: 'pick-text', text: item.text }),
      item.custom ? h('span', { class: 'pick-base', text: BASE_LABELS[item.base] }) : null)))));
  }
  const pendingId = pendingStatus(state);
  const items = new Map(groups.flatMap((g) => g.items).map((i) => [i.id, i]));
  for (const button of root.querySelectorAll('button.pick')) {
    const item = items.get(button.dataset.statusId);
    button.setAttribute('aria-pressed', String(item.current));
    button.disabled = !online() || !item.selectable;
    setData(button, 'pending', pendingId === item.id ? 'true' : null);
    setData(button, 'next', state.presence?.next_status_id === item.id ? 'true' : null);
    button.title = item.selectable ? '' : 'Set by the system; pick another status to leave it';
  }
}

let shownNotice = null;
let noticeTimer = null;

/** Errors stay until the next action; other notices fade after a few seconds. */
function renderNotice() {
  const el = $('#notice');
  el.hidden = !state.notice;
  if (state.notice) {
    setData(el, 'level', state.notice.level);
    setText(el, state.notice.text);
  }
  if (state.notice === shownNotice) return;
  shownNotice = state.notice;
  clearTimeout(noticeTimer);
  if (state.notice && state.notice.level !== 'error') {
    const notice = state.notice;
    noticeTimer = setTimeout(() => {
      const next = dismissNotice(state, notice);
      if (next === state) return;
      shell.channel.update(() => next);
    }, 8000);
  }
}

function pick(statusId) {
  const asNext = $('#next-mode').checked && state.sessions.length > 0;
  if ((!asNext && statusId === state.presence?.status_id) || !online()) return;
  const done = asNext ? shell.channel.setNextPresence(statusId) : shell.channel.setPresence(statusId);
  done.catch(() => {}); // an error shows as the notice
}

function clearNext() {
  shell.channel.clearNextPresence();
}

/** User input: reported as activity, at most once per `activity_interval` (decision 43). */
function active() {
  if (document.visibilityState === 'visible') shell.channel?.activity();
}

function signOut() {
  signingOut = true;
  if (!shell.channel.send({ type: 'sign_out', ref: shell.channel.nextRef() })) {
    signingOut = false;
    forgetToken('agent');
    shell.askForToken('Signed out.', '');
  }
}

function tick() {
  const now = shell.channel?.now() ?? Date.now();
  if (state.presence) setText($('#presence-time'), formatDuration(now - state.presence.since));
  document.title = pageTitle(state, now);
  renderOffers($('#offers'), state, act, { online: online(), now });
  tickOffers($('#offers'), state, now);
  tickSessions($('#sessions'), state, now);
  if (state.presence) renderStanding(now);
  shell.tick();
}

function shortcut(event) {
  const action = shortcutAction(event);
  const offer = action && online() ? actionableOffer(state, shell.channel.now()) : null;
  if (!offer) return;
  event.preventDefault();
  const card = $(`#offers [data-offer-id="${CSS.escape(offer.offerId)}"]`);
  if (action === 'accept') act('accept', offer.offerId);
  else card?.querySelector('[data-action="reject"]').click();
}

$('#sign-out').addEventListener('click', signOut);
$('#clear-next').addEventListener('click', clearNext);
for (const kind of ['keydown', 'pointerdown']) document.addEventListener(kind, active, { passive: true });
document.addEventListener('visibilitychange', active);
$('#back-available').addEventListener('click', () => pick('available'));
addEventListener('keydown', shortcut);
setInterval(tick, 1000);
shell.boot();
