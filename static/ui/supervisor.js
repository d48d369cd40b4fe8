// The supervisor page: live agent table with counts, filters, sorting, actions and a
// drill-down; a Reports view beside it. Events are applied to the roster at once and
// drawn once per frame.
import { Counts } from '../js/counts.js';
import { NO_FILTER, sortArrow, statusOptions, toggleSort, withFilter } from '../js/query.js';
import { Roster } from '../js/roster.js';
import { BASE_LABELS, BASES } from '../js/statuses.js';
import { thresholdLevel } from '../js/thresholds.js';
import { forgetToken } from './auth.js';
import { Actions } from './actions.js';
import { Channel } from './channel.js';
import { $, h, setData, setText } from './dom.js';
import { Drilldown } from './drilldown.js';
import { ReportsView } from './reports.js';
import { AgentTable, useStatusTexts } from './table.js';
import { Shell } from './shell.js';
import { providerSignOut } from './sso.js';

const roster = new Roster();
let counts = new Counts();
let statuses = [];
let teamNames = new Map(); // team id → name (GET /api/teams)
let thresholds = {}; // GET /api/settings
const HIDE_KEY = 'presence.supervisor.hideSignedOut';
const dirty = new Map(); // agent id → the view last drawn (before this burst)
let flushScheduled = false;

const shell = new Shell('supervisor', start);
const teamName = (id) => teamNames.get(id) ?? id;
const table = new AgentTable($('#rows'), {
  now: () => shell.channel?.now() ?? Date.now(),
  teamName,
  level: (agent, now) => thresholdLevel(thresholds, agent, now),
});
table.setFilter(withFilter(NO_FILTER, 'hideSignedOut', localStorage.getItem(HIDE_KEY) === 'true'));
$('#filters').elements.namedItem('hideSignedOut').checked = table.filter.hideSignedOut;
const drill = new Drilldown($('#drill'), {
  now: () => table.now(),
  teamName,
  token: () => shell.token,
  agent: (id) => roster.agents.get(id),
});
const reports = new ReportsView($('#reports'), {
  now: () => table.now(),
  token: () => shell.token,
  teams: () => roster.teams(),
  teamName,
});
const actions = new Actions($('#action-dialog'), {
  send: (msg) => shell.channel?.send(msg) ?? false,
  ref: () => shell.channel.nextRef(),
  agent: (id) => roster.agents.get(id),
  statuses: () => statuses,
});

function start(token) {
  shell.token = token;
  if (!shell.channel) {
    shell.channel = new Channel('/ws/supervisor?batch=1', {
      hello: () => {
        const cursor = roster.cursor();
        return cursor ? { type: 'auth', token: shell.token, cursor } : { type: 'auth', token: shell.token };
      },
      onMessage: receive,
      onLink: (link) => {
        shell.render(link);
        $('#sign-out').hidden = link.phase === 'idle' || !$('#signin').hidden;
      },
    });
  }
  // A new sign-in may watch other teams: start from a fresh snapshot, not a resume.
  roster.clear();
  counts = new Counts();
  dirty.clear();
  shell.channel.restart();
  reports.reset();
  if (document.body.dataset.view === 'reports') reports.show();
}

async function getJson(path) {
  try {
    const res = await fetch(path, { headers: { Authorization: `Bearer ${shell.token}` } });
    return res.ok ? await res.json() : null;
  } catch {
    return null; // refreshed on the next snapshot; the table works without it
  }
}

/** The status catalog, team names and thresholds (each snapshot: they may have changed). */
async function loadConfig() {
  const [list, teams, settings] = await Promise.all([
    getJson('/api/statuses'), getJson('/api/teams'), getJson('/api/settings')]);
  if (list) {
    statuses = list;
    useStatusTexts(statuses);
  }
  if (teams) teamNames = new Map(teams.map((t) => [t.id, t.name || t.id]));
  if (settings) thresholds = settings.thresholds ?? {};
  setData(document.body, 'config', 'loaded');
  table.setSort(table.sort, teamNames);
  renderTeams(true);
  rebuild();
}

function receive(msg) {
  switch (msg.type) {
    case 'snapshot': {
      roster.applySnapshot(msg);
      counts = Counts.of(roster.agents.values());
      dirty.clear();
      setData(document.body, 'feed', msg.resync ? 'resync' : 'snapshot');
      online(msg.heartbeat);
      rebuild();
      loadConfig(); // statuses, teams or thresholds may have changed while we were away
      break;
    }
    case 'resumed':
      setData(document.body, 'feed', 'resumed');
      setData(document.body, 'missed', msg.missed);
      online(msg.heartbeat);
      break;
    case 'presence':
    case 'agent':
    case 'events': {
      // `events` (asked for with ?batch=1): several changes, rendered in one flush.
      const changes = roster.applyEvents(msg);
      for (const change of changes) {
        counts.change(change.before, change.after);
        if (!dirty.has(change.id)) dirty.set(change.id, change.before);
      }
      if (changes.length) scheduleFlush();
      break;
    }
    case 'pong':
      reports.clockKnown();
      break;
    case 'ack':
    case 'error':
      actions.settle(msg, toast);
      break;
    default:
      break;
  }
}

/** Signed in: heartbeats at the interval the server announced in the snapshot or resume. */
function online(heartbeat) {
  $('#main').hidden = false;
  shell.channel.online(heartbeat ?? null);
}

function scheduleFlush() {
  if (flushScheduled) return;
  flushScheduled = true;
  // A hidden tab gets no animation frames; the timeout keeps it current anyway.
  const timer = setTimeout(flush, 250);
  requestAnimationFrame(() => { clearTimeout(timer); flush(); });
}

function flush() {
  if (!flushScheduled) return;
  flushScheduled = false;
  for (const [id, before] of dirty) {
    const after = roster.agents.get(id);
    if (after) table.change(before, after);
    drill.agentChanged(id);
  }
  dirty.clear();
  renderCounts();
  renderTeams();
  renderShown();
  renderOver();
}

function rebuild() {
  table.rebuild([...roster.agents.values()]);
  renderCounts();
  renderTeams();
  renderStatusFilter();
  renderShown();
  renderOver();
  renderSortHeaders();
  drill.agentChanged(drill.agentId);
}

// --- counts, filters, sorting ---

let chipsKey = '';

function chip([value, label, , base, custom]) {
  return h('button', {
    type: 'button', class: custom ? 'count-chip count-chip-custom' : 'count-chip',
    dataset: { filter: value, base },
    title: custom ? `${label}: part of ${BASE_LABELS[base]}` : null,
    onclick: () => setFilter('status', table.filter.status === value ? '' : value),
  }, custom ? null : h('span', { class: 'mark', 'aria-hidden': 'true' }),
  h('span', { class: 'chip-label', text: label }),
  custom ? h('span', { class: 'visually-hidden', text: `, part of ${BASE_LABELS[base]}` }) : null,
  h('span', { class: 'chip-count' }));
}

/** A base's chip with its custom statuses nested under it (they are part of its count). */
function chipGroup([base, [first, ...customs]]) {
  return h('div', { class: 'count-group', dataset: { base } }, chip(first),
    customs.length ? h('ul', { class: 'count-customs', 'aria-label': `Part of ${BASE_LABELS[base]}` },
      customs.map((c) => h('li', {}, chip(c)))) : null);
}

/** Chips per base and custom status; rebuilt only when the set of chips changes. */
function renderCounts() {
  const groups = BASES.map((base) => [base, [
    [`base:${base}`, BASE_LABELS[base], counts.byBase.get(base) ?? 0, base, false],
    ...counts.customsOf(base).map((c) => [`status:${c.id}`, c.text, c.n, base, true]),
  ]]);
  const root = $('#counts');
  const key = JSON.stringify(groups.map(([, chips]) => chips.map((c) => c[0] + c[1])));
  if (key !== chipsKey) {
    chipsKey = key;
    root.replaceChildren(
      h('div', { class: 'count-total' }, h('span', { class: 'chip-count', id: 'count-total' }), ' agents'),
      ...groups.map(chipGroup));
  }
  setText($('#count-total'), String(counts.total));
  const all = new Map(groups.flatMap(([, chips]) => chips.map((c) => [c[0], c[2]])));
  for (const button of root.querySelectorAll('.count-chip')) {
    const n = all.get(button.dataset.filter);
    setData(button, 'count', n);
    setText(button.querySelector('.chip-count'), String(n));
    button.setAttribute('aria-pressed', String(table.filter.status === button.dataset.filter));
  }
}

function renderTeams(force = false) {
  const select = $('#filters').elements.namedItem('team');
  const teams = roster.teams();
  const have = [...select.options].slice(1).map((o) => o.value);
  if (!force && have.join('|') === teams.join('|')) return;
  select.replaceChildren(h('option', { value: '', text: 'All teams' }),
    ...teams.map((t) => h('option', { value: t, text: teamName(t) })));
  select.value = table.filter.team;
}

/** Agents over a time-in-status threshold, per team ("counts them per team"). */
function renderOver() {
  const now = table.now();
  const perTeam = new Map();
  for (const a of roster.agents.values()) {
    if (!thresholdLevel(thresholds, a, now)) continue;
    const key = a.team ?? '';
    perTeam.set(key, (perTeam.get(key) ?? 0) + 1);
  }
  const total = [...perTeam.values()].reduce((n, x) => n + x, 0);
  const el = $('#over');
  el.hidden = Object.keys(thresholds).length === 0;
  setData(el, 'total', total);
  const parts = [...perTeam].sort(([a], [b]) => teamName(a).localeCompare(teamName(b)))
    .map(([t, n]) => `${t ? teamName(t) : 'No team'} ${n}`);
  setText(el, `Over threshold: ${total}${parts.length ? ` (${parts.join(' · ')})` : ''}`);
}

function renderStatusFilter() {
  const select = $('#filters').elements.namedItem('status');
  const customs = statuses.filter((s) => !s.oob);
  const options = statusOptions(BASE_LABELS, customs);
  select.replaceChildren(h('option', { value: '', text: 'All statuses' }),
    h('optgroup', { label: 'By base' }, options.filter(([v]) => v.startsWith('base:')).map(([v, l]) => h('option', { value: v, text: l }))),
    customs.length ? h('optgroup', { label: 'Custom statuses' },
      options.filter(([v]) => v.startsWith('status:')).map(([v, l]) => h('option', { value: v, text: l }))) : null);
  select.value = table.filter.status;
}

function shownText() {
  return `${table.order.length} of ${roster.agents.size} agents`;
}

/** Say what the user's change did (filters, sort); events never announce. */
function announce(text) {
  setText($('#announce'), text);
}

function renderShown() {
  setText($('#shown'), shownText());
  $('#no-rows').hidden = table.order.length > 0 || roster.agents.size === 0;
  setData(document.body, 'agentCount', roster.agents.size);
}

function setFilter(name, value) {
  table.setFilter(withFilter(table.filter, name, value));
  const field = $('#filters').elements.namedItem(name);
  if (field.type === 'checkbox') field.checked = Boolean(value);
  else if (field.value !== value) field.value = value;
  if (name === 'hideSignedOut') localStorage.setItem(HIDE_KEY, String(Boolean(value)));
  rebuild();
  announce(shownText());
}

function renderSortHeaders() {
  for (const th of document.querySelectorAll('#agents .th[data-col]')) {
    const active = th.dataset.col === table.sort.column;
    if (active) th.setAttribute('aria-sort', table.sort.dir === 'asc' ? 'ascending' : 'descending');
    else th.removeAttribute('aria-sort');
    const button = th.querySelector('button');
    let arrow = button.querySelector('.arrow');
    if (!arrow) {
      arrow = h('span', { class: 'arrow', 'aria-hidden': 'true' });
      button.append(arrow);
    }
    setText(arrow, sortArrow(table.sort, th.dataset.col));
  }
}

const filters = $('#filters');
filters.addEventListener('input', (event) => {
  const { name, value, type, checked } = event.target;
  if (name in table.filter) setFilter(name, type === 'checkbox' ? checked : value);
});
filters.addEventListener('reset', (event) => {
  // Clear is done here, at once, instead of by the browser's reset (which runs after this
  // event): fields and filter change together, so a render in between cannot write the old
  // filter back into a field, and anything typed after the click is kept as typed.
  // It keeps "hide signed-out": a remembered preference, not a filter of the moment.
  event.preventDefault();
  const next = withFilter(NO_FILTER, 'hideSignedOut', table.filter.hideSignedOut);
  for (const name of Object.keys(NO_FILTER)) {
    const field = filters.elements.namedItem(name);
    if (field && field.type !== 'checkbox') field.value = next[name];
  }
  table.setFilter(next);
  rebuild();
  announce(shownText());
});
filters.addEventListener('submit', (event) => event.preventDefault());

for (const th of document.querySelectorAll('#agents .th[data-col]')) {
  th.querySelector('button').addEventListener('click', () => {
    table.setSort(toggleSort(table.sort, th.dataset.col), teamNames);
    rebuild();
    const dir = table.sort.dir === 'asc' ? 'ascending' : 'descending';
    announce(`Sorted by ${th.querySelector('button').firstChild.textContent}, ${dir}`);
  });
}

// --- row actions, drill-down, toasts ---

$('#rows').addEventListener('click', (event) => {
  const tr = event.target.closest('[data-agent-id]');
  if (!tr) return;
  const id = tr.dataset.agentId;
  const action = event.target.closest('button')?.dataset.action;
  if (action === 'force') actions.open('force', id, event.target);
  else if (action === 'sign-out') actions.open('sign-out', id, event.target);
  else if (action === 'open' || !event.target.closest('button')) drill.open(id, tr.querySelector('[data-action="open"]'));
});

let toastTimer = null;
function toast(text, level = 'info') {
  const el = $('#toast');
  setData(el, 'level', level);
  setText(el, text);
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 6000);
}

$('#sign-out').addEventListener('click', () => {
  forgetToken('supervisor');
  if (providerSignOut('supervisor')) return;
  shell.askForToken('Signed out.', 'This page forgot your token.');
});

// --- views: Live and Reports (tabs; the choice is kept for the tab's session) ---

const VIEW_KEY = 'presence.supervisor.view';
const tabs = [...document.querySelectorAll('.view-tabs [role=tab]')];

function showView(view, { focus = false } = {}) {
  for (const tab of tabs) {
    const on = tab.dataset.view === view;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    $(`#${tab.getAttribute('aria-controls')}`).hidden = !on;
    if (on && focus) tab.focus();
  }
  setData(document.body, 'view', view);
  sessionStorage.setItem(VIEW_KEY, view);
  if (view === 'reports') {
    if (!drill.panel.hidden) drill.close();
    if (shell.token) reports.show();
  }
}

for (const tab of tabs) {
  tab.addEventListener('click', () => showView(tab.dataset.view));
  tab.addEventListener('keydown', (event) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    event.preventDefault();
    const next = tabs[(tabs.indexOf(tab) + step + tabs.length) % tabs.length];
    showView(next.dataset.view, { focus: true });
  });
}

setInterval(() => {
  if (table.tick()) {
    if (table.filter.threshold) rebuild();
    else renderOver();
  }
  drill.tick();
  shell.tick();
}, 1000);
shell.boot();
showView(sessionStorage.getItem(VIEW_KEY) === 'reports' ? 'reports' : 'live');
