// The agent page: current presence, the picker, offers, open sessions.
import {
  announcement, dismissNotice, expireOffers, initialAgentState, pendingStatus, reduce, request,
} from '../js/agent-state.js';
import { BASE_LABELS, isCustom, pickerGroups, sourceText } from '../js/statuses.js';
import { activityDue, nextStatusText } from '../js/activity.js';
import { formatDuration } from '../js/time.js';
import { Channel } from './channel.js';
import { $, announce, h, setData, setText } from './dom.js';
import { forgetToken } from './auth.js';
import { renderOffers, renderSessions, tickOffers, tickSessions } from './work.js';
import { Shell } from './shell.js';
import { providerSignOut } from './sso.js';

let state = initialAgentState();
let signingOut = false;
let pickerKey = '';
let activityInterval = null;
let activitySentAt = null;
const shell = new Shell('agent', start);

function start(token) {
  if (!shell.channel) {
    shell.channel = new Channel('/ws/agent', {
      hello: () => ({ type: 'auth', token: shell.token }),
      onMessage: receive,
      onLink: linkChanged,
    });
  }
  shell.token = token;
  shell.channel.restart();
}

function linkChanged(link) {
  if (link.phase === 'stopped' && signingOut) {
    signingOut = false;
    if (providerSignOut('agent')) return;
    shell.askForToken('Signed out.', 'You signed out on every tab. Sign in again to go back online.');
    return;
  }
  shell.render(link);
  $('#sign-out').hidden = link.phase === 'stopped' || link.phase === 'idle';
  renderPicker();
}

function receive(msg) {
  const before = state.presence;
  state = reduce(state, msg, shell.channel.now());
  if (msg.type === 'welcome') {
    $('#main').hidden = false;
    shell.channel.online(msg.heartbeat);
    activityInterval = msg.activity_interval ?? null;
    activitySentAt = null;
    setText($('#who'), `${state.name} · ${state.agentId}`);
    document.title = `${state.name} · Presence`;
  }
  if (msg.type === 'offer') announce($('#live'), 'New offer. See the Offers section.');
  if (msg.type !== 'pong') render();
  if (msg.type !== 'welcome') announce($('#live'), announcement(before, state.presence));
}

function render() {
  renderPresence();
  renderPicker();
  renderNotice();
  renderOffers($('#offers'), state, act);
  renderSessions($('#sessions'), state, act);
  setText($('#offers-count'), String(state.offers.length));
  setText($('#sessions-count'), String(state.sessions.length));
  $('#offers-empty').hidden = state.offers.length > 0;
  $('#sessions-empty').hidden = state.sessions.length > 0;
  tick();
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
  const online = shell.channel?.link.phase === 'online';
  const pendingId = pendingStatus(state);
  const items = new Map(groups.flatMap((g) => g.items).map((i) => [i.id, i]));
  for (const button of root.querySelectorAll('button.pick')) {
    const item = items.get(button.dataset.statusId);
    button.setAttribute('aria-pressed', String(item.current));
    button.disabled = !online || !item.selectable;
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
      state = next;
      renderNotice();
    }, 8000);
  }
}

function pick(statusId) {
  const asNext = $('#next-mode').checked && state.sessions.length > 0;
  if (!asNext && statusId === state.presence?.status_id) return;
  const ref = shell.channel.nextRef();
  const type = asNext ? 'set_next_presence' : 'set_presence';
  if (shell.channel.send({ type, status_id: statusId, ref })) {
    state = request(state, ref, { kind: 'presence', statusId });
    render();
  }
}

/** Offer and session actions from work.js: accept, reject (with reason), close_work. */
function act(kind, id, reason = '') {
  const ref = shell.channel.nextRef();
  const frames = {
    accept: [{ type: 'accept', offer_id: id, ref }, { kind, offerId: id }],
    reject: [{ type: 'reject', offer_id: id, reason, ref }, { kind, offerId: id }],
    close_work: [{ type: 'close_work', work_item_id: id, ref }, { kind, workItemId: id }],
  };
  const [frame, req] = frames[kind];
  if (shell.channel.send(frame)) {
    state = request(state, ref, req);
    render();
  }
}

function clearNext() {
  shell.channel.send({ type: 'clear_next_presence', ref: shell.channel.nextRef() });
}

/** User input: reported as activity at most once per `activity_interval` (decision 43). */
function active() {
  if (document.visibilityState !== 'visible' || shell.channel?.link.phase !== 'online') return;
  const now = Date.now();
  if (!activityDue(activitySentAt, now, activityInterval)) return;
  if (shell.channel.send({ type: 'activity' })) activitySentAt = now;
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
  const expired = expireOffers(state, now);
  if (expired !== state) {
    state = expired;
    render();
    return;
  }
  tickOffers($('#offers'), state, now);
  tickSessions($('#sessions'), state, now);
  shell.tick();
}

$('#sign-out').addEventListener('click', signOut);
$('#clear-next').addEventListener('click', clearNext);
for (const kind of ['keydown', 'pointerdown']) document.addEventListener(kind, active, { passive: true });
document.addEventListener('visibilitychange', active);
setInterval(tick, 1000);
shell.boot();
