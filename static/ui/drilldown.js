// The drill-down panel: one agent's live details and today's presence timeline, from
// GET /api/agents/{id}/history?from=&to= (epoch ms).
import { BASE_LABELS, isCustom, reasonText, sourceText } from '../js/statuses.js';
import { clockTime, formatDuration, secondsLeft, startOfDay } from '../js/time.js';
import { readHistory } from '../js/timeline.js';
import { $, badge, h, setData, setText, svg } from './dom.js';

/** Ranges the timeline can show: 'today' from local midnight, else the last N ms. */
const RANGES = new Map([['today', 'Today'], ['hour', 'Last hour'], ['quarter', 'Last 15 min']]);
const RANGE_MS = { hour: 3_600_000, quarter: 900_000 };

/**
 * The drill-down panel of one agent.
 */
export class Drilldown {
  /**
   * `deps`: server-clock ms, the bearer token, an agent's view.
   * @param {HTMLElement} panel
   * @param {{now: () => number, token: () => string, agent: (id: string) => object | undefined, teamName?: (id: string) => string}} deps
   */
  constructor(panel, { now, token, agent, teamName = (id) => id }) {
    this.panel = panel;
    this.deps = { now, token, agent, teamName };
    this.agentId = null;
    this.opener = null;
    this.shownVersion = null;
    this.refetch = null;
    this.request = 0;
    this.range = 'today';
    $('#drill-close').addEventListener('click', () => this.close());
    panel.addEventListener('keydown', (event) => { if (event.key === 'Escape') this.close(); });
  }

  open(agentId, opener) {
    this.agentId = agentId;
    this.opener = opener;
    this.shownVersion = null;
    this.panel.hidden = false;
    setData(this.panel, 'agentId', agentId);
    $('#drill-body').replaceChildren(
      h('div', { id: 'drill-summary' }),
      h('div', { class: 'range-head' },
        h('h3', { id: 'drill-range-h', text: RANGES.get(this.range) }),
        h('div', { class: 'range-pick', role: 'group', 'aria-label': 'Time range' },
          [...RANGES].map(([key, label]) => h('button', {
            type: 'button', class: 'btn btn-small', dataset: { range: key },
            'aria-pressed': String(key === this.range), text: label,
            onclick: () => this.setRange(key),
          })))),
      h('div', { id: 'drill-timeline', class: 'timeline', dataset: { state: 'loading' } },
        h('p', { class: 'muted', text: 'Loading…' })));
    this.renderSummary();
    this.panel.focus();
    this.load();
  }

  setRange(key) {
    this.range = key;
    setText($('#drill-range-h'), RANGES.get(key));
    for (const b of this.panel.querySelectorAll('[data-range]')) {
      b.setAttribute('aria-pressed', String(b.dataset.range === key));
    }
    this.load();
  }

  close() {
    this.panel.hidden = true;
    this.agentId = null;
    clearTimeout(this.refetch);
    this.opener?.focus();
  }

  /** An agent changed: refresh the panel if it is the one shown. */
  agentChanged(agentId) {
    if (!this.agentId || agentId !== this.agentId) return;
    const agent = this.deps.agent(agentId);
    const presenceMoved = agent && this.shownVersion !== null
      && this.lastSince !== agent.since;
    this.renderSummary();
    if (presenceMoved) {
      clearTimeout(this.refetch);
      this.refetch = setTimeout(() => this.load(), 500);
    }
  }

  renderSummary() {
    const a = this.deps.agent(this.agentId);
    if (!a) return;
    this.lastSince = a.since;
    setText($('#drill-h'), a.name || a.agent_id);
    const cap = a.capacity ?? {};
    const facts = [
      ['Agent id', a.agent_id],
      ['Team', a.team ? this.deps.teamName(a.team) : '—'],
      ['Base', BASE_LABELS[a.base]],
      ['Since', clockTime(a.since)],
      ['Source', sourceText(a, 'supervisor')],
      ['Reason', reasonText(a.reason)],
      ['Open tabs', String(a.connections)],
      ['Sessions', `${cap.sessions ?? 0} / ${cap.session_limit ?? '—'}`],
    ];
    $('#drill-summary').replaceChildren(
      h('div', { class: 'drill-status' }, badge(a, { showBase: isCustom(a.status_id), labels: BASE_LABELS }),
        h('span', { class: 'clock', id: 'drill-since' })),
      h('p', { class: 'grace-note', id: 'drill-grace', hidden: true }),
      h('dl', { class: 'facts' }, facts.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })])));
    this.shownVersion = a.version;
    this.tick();
  }

  tick() {
    const a = this.agentId && this.deps.agent(this.agentId);
    if (!a || this.panel.hidden) return;
    const now = this.deps.now();
    const since = $('#drill-since');
    if (since) setText(since, formatDuration(now - a.since));
    const grace = $('#drill-grace');
    if (grace) {
      const on = a.grace_until !== null && a.connections === 0;
      grace.hidden = !on;
      if (on) setText(grace, `Disconnected · grace window ends in ${formatDuration(secondsLeft(a.grace_until, now) * 1000)}`);
    }
  }

  async load() {
    const id = this.agentId;
    const to = Math.round(this.deps.now());
    const from = this.range === 'today' ? startOfDay(to) : to - RANGE_MS[this.range];
    const seq = ++this.request;
    const target = $('#drill-timeline');
    try {
      const res = await fetch(`/api/agents/${encodeURIComponent(id)}/history?from=${from}&to=${to}`, {
        headers: { Authorization: `Bearer ${this.deps.token()}` },
      });
      if (seq !== this.request || id !== this.agentId) return;
      if (!res.ok) throw new Error(res.status === 404 ? 'History is not available on this server.' : `HTTP ${res.status}`);
      this.renderTimeline(await res.json(), from, to);
    } catch (err) {
      if (seq !== this.request || !target.isConnected) return;
      setData(target, 'state', 'error');
      target.replaceChildren(h('p', { class: 'notice', dataset: { level: 'error' }, text: `Could not load the timeline: ${err.message}` }));
    }
  }

  renderTimeline(body, from, to) {
    const target = $('#drill-timeline');
    if (!target) return;
    const { segments, totals, changes: entries } = readHistory(body, from, to, this.deps.agent(this.agentId));
    const span = Math.max(1, to - from);
    const bar = svg('svg', { class: 'timeline-bar', viewBox: '0 0 1000 24', preserveAspectRatio: 'none', role: 'img',
      'aria-label': 'Presence timeline for today' },
    ...segments.map((s) => svg('rect', {
      class: 'seg', 'data-base': s.base, x: ((s.start - from) / span) * 1000, y: 0,
      width: Math.max(0.5, ((s.end - s.start) / span) * 1000), height: 24,
    }, svg('title', {}, `${s.text} · ${clockTime(s.start)}–${clockTime(s.end)}`))));
    setData(target, 'state', 'ready');
    setData(target, 'entries', entries.length);
    target.replaceChildren(
      bar,
      h('div', { class: 'timeline-axis' }, h('span', { text: clockTime(from) }), h('span', { text: `now ${clockTime(to)}` })),
      h('h3', { text: 'Time per status' }),
      h('ul', { class: 'totals' }, totals.map((t) => h('li', { dataset: { base: t.base } },
        h('span', { class: 'mark', 'aria-hidden': 'true' }), h('span', { class: 'total-text', text: t.text }),
        h('span', { class: 'clock', text: formatDuration(t.ms) }),
        h('span', { class: 'muted', text: `${Math.round((t.ms / span) * 100)}%` })))),
      h('h3', { text: 'Changes' }),
      entries.length ? h('ol', { class: 'changes' }, [...entries].reverse().map((e) => h('li', { dataset: { base: e.base } },
        h('span', { class: 'clock', text: clockTime(e.at) }),
        h('span', { class: 'mark', 'aria-hidden': 'true' }),
        h('span', { class: 'change-text', text: e.text }),
        h('span', { class: 'muted', text: [e.source, reasonText(e.reason), e.actor ? `by ${e.actor}` : ''].filter(Boolean).join(' · ') }))))
        : h('p', { class: 'muted', text: 'No changes recorded today.' }));
  }
}
