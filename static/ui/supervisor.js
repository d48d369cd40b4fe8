// The supervisor page: live agent table with counts, filters, sorting, actions and a
// drill-down; a Reports view beside it. Events are applied to the roster at once and
// drawn once per frame.
import { Counts } from '../js/counts.js';
import { NO_FILTER, statusOptions, toggleSort, withFilter } from '../js/query.js';
import { Roster } from '../js/roster.js';
import { BASE_LABELS, BASES } from '../js/statuses.js';
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
const dirty = new Map(); // agent id → the view last drawn (before this burst)
let flushScheduled = false;

const shell = new Shell('supervisor', start);
const table = new AgentTable($('#rows'), { now: () => shell.channel?.now() ?? Date.now() });
const drill = new Drilldown($('#drill'), {
  now: () => table.now(),
  token: () => shell.token,
  agent: (id) => roster.agents.get(id),
});
const reports = new ReportsView($('#reports'), {
  now: () => table.now(),
  token: () => shell.token,
  teams: () => roster.teams(),
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
    shell.channel = new Channel('/ws/supervisor', {
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

async function loadStatuses() {
  try {
    const res = await fetch('/api/statuses', { headers: { Authorization: `Bearer ${shell.token}` } });
    if (!res.ok) return;
    statuses = await res.json();
    useStatusTexts(statuses);
    renderStatusFilter();
  } catch {
    // The list is refreshed on the next sign-in; the table works without it.
  }
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
      loadStatuses(); // custom statuses may have changed while we were away
      break;
    }
    case 'resumed':
      setData(document.body, 'feed', 'resumed');
      setData(document.body, 'missed', msg.missed);
      online(msg.heartbeat);
      break;
    case 'presence':
    case 'agent': {
      const change = roster.applyEvent(msg);
      if (!change) break;
      counts.change(change.before, change.after);
      if (!dirty.has(change.id)) dirty.set(change.id, change.before);
      scheduleFlush();
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
}

function rebuild() {
  table.rebuild([...roster.agents.values()]);
  renderCounts();
  renderTeams();
  renderStatusFilter();
  renderShown();
  renderSortHeaders();
  drill.agentChanged(drill.agentId);
}

// --- counts, filters, sorting ---

let chipsKey = '';

function chip([value, label, , base, custom]) {
  return h('button', {
    type: 'button', class: custom ? 'count-chip count-chip-custom' : 'count-chip',
    dataset: { filter: value, base },
    onclick: () => setFilter('status', table.filter.status === value ? '' : value),
  }, h('span', { class: 'mark', 'aria-hidden': 'true' }), h('span', { class: 'chip-label', text: label }),
  h('span', { class: 'chip-count' }));
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
      ...groups.map(([base, chips]) => h('div', { class: 'count-group', dataset: { base } }, chips.map(chip))));
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

function renderTeams() {
  const select = $('#filters').elements.namedItem('team');
  const teams = roster.teams();
  const have = [...select.options].slice(1).map((o) => o.value);
  if (have.join('|') === teams.join('|')) return;
  select.replaceChildren(h('option', { value: '', text: 'All teams' }),
    ...teams.map((t) => h('option', { value: t, text: t })));
  select.value = table.filter.team;
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

function renderShown() {
  setText($('#shown'), `${table.order.length} of ${roster.agents.size} agents`);
  $('#no-rows').hidden = table.order.length > 0 || roster.agents.size === 0;
  setData(document.body, 'agentCount', roster.agents.size);
}

function setFilter(name, value) {
  table.setFilter(withFilter(table.filter, name, value));
  const field = $('#filters').elements.namedItem(name);
  if (field.value !== value) field.value = value;
  rebuild();
}

function renderSortHeaders() {
  for (const th of document.querySelectorAll('#agents .th[data-col]')) {
    const active = th.dataset.col === table.sort.column;
    if (active) th.setAttribute('aria-sort', table.sort.dir === 'asc' ? 'ascending' : 'descending');
    else th.removeAttribute('aria-sort');
  }
}

const filters = $('#filters');
filters.addEventListener('input', (event) => {
  const { name, value } = event.target;
  if (name in table.filter) setFilter(name, value);
});
filters.addEventListener('reset', () => setTimeout(() => {
  table.setFilter(NO_FILTER);
  rebuild();
}));
filters.addEventListener('submit', (event) => event.preventDefault());

for (const th of document.querySelectorAll('#agents .th[data-col]')) {
  th.querySelector('button').addEventListener('click', () => {
    table.setSort(toggleSort(table.sort, th.dataset.col));
    rebuild();
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
  table.tick();
  drill.tick();
  shell.tick();
}, 1000);
shell.boot();
showView(sessionStorage.getItem(VIEW_KEY) === 'reports' ? 'reports' : 'live');
