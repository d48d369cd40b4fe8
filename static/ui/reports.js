// The Reports view: time in each status per agent for one local day and team, from
// GET /api/reports/presence, as horizontal stacked SVG bars grouped under team totals.
// A row's bar (or one of its base segments) opens the statuses under each base; the CSV
// comes from the same endpoint with the bearer token (never in the URL) as a Blob.
import { BASE_LABELS } from '../js/statuses.js';
import {
  baseSeconds, chartGroups, csvFileName, dayRange, drillRows, hms, legendBases, localDate, percent, percentText, reportQuery, segmentText, shiftRange, signedInReport, sortGroups, statusSegments, tipAnchor,
} from '../js/reports.js';
import { clockTime } from '../js/time.js';
import { $, h, setData, setText, svg } from './dom.js';

async function failure(res) {
  try {
    const body = await res.json();
    if (body?.error?.message) return `${body.error.message} (HTTP ${res.status})`;
  } catch {
    // not JSON: the status says enough
  }
  return `HTTP ${res.status}`;
}

function mark(base, shade = null) {
  return h('span', { class: 'mark', dataset: shade === null ? { base } : { base, shade }, 'aria-hidden': 'true' });
}

/** One stacked bar; `segs` from js/reports.js (x and width in percent). */
function bar(segs, label, { level, expanded = false }) {
  return svg('svg', {
    class: 'rep-bar', viewBox: '0 0 100 10', preserveAspectRatio: 'none', role: 'group', 'aria-label': label,
  }, svg('rect', { class: 'rep-track', x: 0, y: 0, width: 100, height: 10 }),
  segs.map((s, i) => svg('rect', {
    class: 'seg', x: s.x, y: 0, width: s.width, height: 10,
    'data-level': level, 'data-base': s.base, 'data-seconds': s.seconds,
    'data-status-id': s.status_id, 'data-custom': s.status_id ? String(s.custom) : null,
    'data-shade': s.status_id ? s.shade : null, 'data-tip': segmentText(s), 'data-at': tipAnchor(s),
    tabindex: i === 0 ? 0 : -1,
    role: level === 'base' ? 'button' : 'img',
    'aria-expanded': level === 'base' ? String(expanded) : null,
    'aria-label': segmentText(s),
  })));
}

/**
 * The supervisor's Reports view.
 */
export class ReportsView {
  /**
   * view: the #reports section; deps: now() server ms, token(), teams() known team ids,
   * teamName(id) a team's name.
   * @param {HTMLElement} view
   * @param {{now: () => number, token: () => string, teams: () => string[], teamName?: (id: string) => string}} deps
   */
  constructor(view, { now, token, teams, teamName = (id) => id }) {
    this.view = view;
    this.deps = { now, token, teams, teamName };
    this.form = $('#rep-filters');
    this.chart = $('#rep-chart');
    this.tip = h('div', { class: 'rep-tip', id: 'rep-tip', 'aria-hidden': 'true', hidden: true });
    this.request = 0;
    this.defaultDate = null; // the day filled in for the user, until they pick another
    this.report = null;
    this.shown = null; // {date, team, from, to} of the report on screen
    this.expanded = new Set(); // row keys ("agent:A1", "team:support") with the statuses open
    this.form.addEventListener('change', (event) => {
      // Signed-in time and the sort reshape the report on screen; the rest asks again.
      if (this.report && ['signedIn', 'sort'].includes(event.target.name)) this.render();
      else this.load();
    });
    this.form.addEventListener('submit', (event) => { event.preventDefault(); this.load(); });
    $('#rep-refresh').addEventListener('click', () => this.load());
    $('#rep-download').addEventListener('click', () => this.download());
    this.chart.addEventListener('click', (event) => this.clicked(event));
    this.chart.addEventListener('keydown', (event) => this.key(event));
    this.chart.addEventListener('mouseover', (event) => this.pointAt(event.target));
    this.chart.addEventListener('mouseleave', () => this.hideTip());
    this.chart.addEventListener('focusin', (event) => this.pointAt(event.target));
    this.chart.addEventListener('focusout', () => this.hideTip());
  }

  /** The view became visible: fill the day (today, server time) and teams, then load. */
  show() {
    const date = this.form.elements.namedItem('date');
    const today = localDate(this.deps.now());
    date.max = today;
    if (!date.value) {
      date.value = today;
      this.defaultDate = today;
    }
    this.renderTeams();
    this.load();
  }

  /** The server clock was (re)measured: a day still at its default follows "today". */
  clockKnown() {
    const date = this.form.elements.namedItem('date');
    const today = localDate(this.deps.now());
    date.max = today;
    if (this.defaultDate && date.value === this.defaultDate && today !== this.defaultDate) {
      date.value = today;
      this.defaultDate = today;
      if (!this.view.hidden) this.load();
    }
  }

  /** A new sign-in: forget the report on screen (it may show other teams). */
  reset() {
    this.request += 1;
    this.report = null;
    this.shown = null;
    this.expanded.clear();
    this.chart.replaceChildren();
    $('#rep-legend').replaceChildren();
    setText($('#rep-range'), '');
    this.notice('');
    setData(this.view, 'state', 'idle');
  }

  renderTeams(extra = []) {
    const select = this.form.elements.namedItem('team');
    const teams = [...new Set([...this.deps.teams(), ...extra])].sort();
    const have = [...select.options].slice(1).map((o) => o.value);
    if (have.join('|') === teams.join('|')) return;
    const value = select.value;
    select.replaceChildren(h('option', { value: '', text: 'All teams' }),
      ...teams.map((t) => h('option', { value: t, text: this.deps.teamName(t) })));
    select.value = teams.includes(value) ? value : '';
  }

  /** What the form asks for, or null while the day is not a date. */
  params() {
    const date = this.form.elements.namedItem('date').value;
    const f = this.form.elements;
    const range = shiftRange(date, f.namedItem('shiftFrom').value, f.namedItem('shiftTo').value);
    if (!range) return null;
    return { date, team: f.namedItem('team').value, ...range };
  }

  async load() {
    const params = this.params();
    if (!params) {
      this.notice('Pick a day.');
      return;
    }
    const seq = ++this.request;
    setData(this.view, 'state', 'loading');
    this.chart.setAttribute('aria-busy', 'true');
    try {
      const res = await fetch(`/api/reports/presence?${reportQuery(params)}`, {
        headers: { Authorization: `Bearer ${this.deps.token()}` },
      });
      if (seq !== this.request) return;
      if (!res.ok) throw new Error(await failure(res));
      const report = await res.json();
      if (seq !== this.request) return;
      if (this.shown?.date !== params.date || this.shown?.team !== params.team) this.expanded.clear();
      this.report = report;
      this.shown = params;
      this.render();
    } catch (err) {
      if (seq !== this.request) return;
      setData(this.view, 'state', 'error');
      this.notice(`Could not load the report: ${err.message}`);
    } finally {
      if (seq === this.request) this.chart.removeAttribute('aria-busy');
    }
  }

  notice(text) {
    const el = $('#rep-notice');
    el.hidden = !text;
    setText(el, text);
  }

  /** Signed-in time only (the default) and the sort apply to the report on screen. */
  render() {
    const f = this.form.elements;
    const signedIn = f.namedItem('signedIn').checked;
    const sortBase = f.namedItem('sort').value;
    this.column = sortBase || 'available';
    const r = signedIn ? signedInReport(this.report) : this.report;
    this.onScreen = r;
    const p = this.shown;
    setData(this.view, 'signedIn', String(signedIn));
    this.notice('');
    for (const [k, v] of Object.entries({ date: p.date, team: p.team, from: r.from, to: r.to, until: r.until, agents: r.agents.length })) {
      setData(this.view, k, v);
    }
    this.renderTeams(r.teams.map((t) => t.team).filter(Boolean));
    const fullDay = dayRange(p.date);
    const end = r.until < r.to ? `${clockTime(r.until)} (now)`
      : r.to === fullDay?.to ? '24:00' : clockTime(r.to);
    const span = r.until <= r.from ? 'not begun yet' : `${clockTime(r.from)}–${end}`;
    setText($('#rep-range'), `${span} · ${r.agents.length} agent${r.agents.length === 1 ? '' : 's'}`);
    $('#rep-legend').replaceChildren(...legendBases(r).map((l) => h('span', { class: 'rep-key', dataset: { base: l.base } },
      mark(l.base), l.label)));
    const groups = sortGroups(chartGroups(r), sortBase);
    const column = BASE_LABELS[this.column];
    this.hideTip();
    this.chart.replaceChildren(
      h('div', { class: 'rep-row rep-head', 'aria-hidden': 'true' },
        h('span', { text: 'Agent' }), h('span', { text: `Time in status, ${p.date}` }), h('span', { class: 'num', text: column })),
      ...(groups.length ? groups.map((g) => h('section', { class: 'rep-group', dataset: { team: g.team ?? '' }, 'aria-label': this.teamName(g.team) },
        g.item ? this.row('team', g.team ?? '', g.item, g.segments,
          [h('strong', { text: this.teamName(g.team) }), h('span', { class: 'muted', text: ` · ${g.agents} agent${g.agents === 1 ? '' : 's'}` })]) : null,
        g.members.map((m) => this.row('agent', m.agent_id, m.item, m.segments,
          [h('span', { class: 'rep-name', text: m.name }), h('span', { class: 'agent-id', text: m.agent_id })]))))
        : [h('p', { class: 'empty', text: 'No agents in this report.' })]),
    );
    setData(this.view, 'state', 'ready');
  }

  teamName(team) {
    return team === null || team === '' ? 'No team' : this.deps.teamName(team);
  }

  /** One row: label (a button opening the statuses), base bar, available time, and the
   *  drill-down when open. `kind`: 'agent' | 'team'. */
  row(kind, id, item, segs, label) {
    const key = `${kind}:${id}`;
    const open = this.expanded.has(key);
    const drillId = `rep-drill-${kind}-${id}`;
    const name = kind === 'team' ? this.teamName(id || null) : item.name || id;
    const column = this.column ?? 'available';
    const available = baseSeconds(item, column);
    const row = h('div', {
      class: `rep-row rep-${kind}`, dataset: { key, expanded: String(open), ...(kind === 'agent' ? { agentId: id } : { team: id }) },
    },
    h('div', { class: 'rep-label' }, h('button', {
      type: 'button', class: 'rep-open', 'aria-expanded': String(open), 'aria-controls': drillId,
      title: open ? 'Hide the statuses' : 'Show the statuses under each base',
    }, h('span', { class: 'chevron', 'aria-hidden': 'true' }), ...label)),
    h('div', { class: 'rep-bar-wrap' }, bar(segs, `${name}: time in status`, { level: 'base', expanded: open })),
    h('div', { class: 'rep-total num', title: `Time ${BASE_LABELS[column]}` },
      h('span', { class: 'clock', text: hms(available) }), h('span', { class: 'muted', text: percentText(percent(available, item.seconds)) })),
    h('div', { class: 'rep-drill', id: drillId, hidden: !open }, open ? this.drill(item, name) : null));
    return row;
  }

  /** The statuses under each base: a bar with one segment per status, then a list. */
  drill(item, name) {
    return [
      h('div', { class: 'rep-bar-wrap' }, bar(statusSegments(item), `${name}: time per status`, { level: 'status' })),
      h('div', { class: 'rep-drill-list' }, drillRows(item).map((b) => h('div', { class: 'rep-drill-base', dataset: { base: b.base } },
        h('div', { class: 'rep-drill-head' }, mark(b.base), h('strong', { text: b.label }),
          h('span', { class: 'clock', text: hms(b.seconds) }), h('span', { class: 'muted', text: percentText(b.pct) })),
        h('ul', {}, b.statuses.map((s) => h('li', { dataset: { statusId: s.status_id, seconds: s.seconds, custom: String(s.custom) } },
          mark(b.base, s.shade), h('span', { class: 'rep-status-text', text: s.text }),
          h('span', { class: 'clock', text: hms(s.seconds) }), h('span', { class: 'muted', text: percentText(s.pct) }))))))),
    ];
  }

  /** Open or close the statuses of one row, keeping focus where it was. */
  toggle(rowEl, selectBase = null) {
    const key = rowEl.dataset.key;
    const open = !this.expanded.has(key) || selectBase !== null;
    if (open) this.expanded.add(key);
    else this.expanded.delete(key);
    const [kind, ...rest] = key.split(':');
    const id = rest.join(':');
    const item = kind === 'agent' ? this.onScreen.agents.find((a) => a.agent_id === id)
      : this.onScreen.teams.find((t) => (t.team ?? '') === id);
    if (!item) return;
    const name = kind === 'team' ? this.teamName(id || null) : item.name || id;
    const drill = rowEl.querySelector('.rep-drill');
    drill.replaceChildren(...(open ? this.drill(item, name) : []));
    drill.hidden = !open;
    setData(rowEl, 'expanded', String(open));
    const button = rowEl.querySelector('.rep-open');
    button.setAttribute('aria-expanded', String(open));
    button.title = open ? 'Hide the statuses' : 'Show the statuses under each base';
    for (const seg of rowEl.querySelectorAll('.rep-bar-wrap > .rep-bar .seg[data-level="base"]')) {
      seg.setAttribute('aria-expanded', String(open));
    }
    for (const b of drill.querySelectorAll('.rep-drill-base')) {
      setData(b, 'selected', selectBase !== null && b.dataset.base === selectBase ? 'true' : null);
    }
  }

  clicked(event) {
    const rowEl = event.target.closest('.rep-row[data-key]');
    if (!rowEl) return;
    const seg = event.target.closest('.seg');
    if (seg?.dataset.level === 'base') {
      const already = this.expanded.has(rowEl.dataset.key)
        && rowEl.querySelector(`.rep-drill-base[data-base="${seg.dataset.base}"][data-selected]`);
      this.toggle(rowEl, already ? null : seg.dataset.base);
    } else if (event.target.closest('.rep-open')) {
      this.toggle(rowEl);
    }
  }

  /** Enter/Space on a base segment opens its row; arrows move along a bar (one tab stop
   *  per bar). */
  key(event) {
    const seg = event.target.closest?.('.seg');
    if (!seg) return;
    if ((event.key === 'Enter' || event.key === ' ') && seg.dataset.level === 'base') {
      event.preventDefault();
      this.clicked(event);
      return;
    }
    const segs = [...seg.parentNode.querySelectorAll('.seg')];
    const at = segs.indexOf(seg);
    const i = { ArrowRight: Math.min(segs.length - 1, at + 1), ArrowLeft: Math.max(0, at - 1), Home: 0, End: segs.length - 1 }[event.key];
    if (i === undefined) return;
    event.preventDefault();
    for (const s of segs) s.setAttribute('tabindex', s === segs[i] ? '0' : '-1');
    segs[i].focus();
  }

  /** Show the tooltip of the segment under the pointer or in focus. */
  pointAt(target) {
    const seg = target.closest?.('.seg');
    if (!seg) {
      this.hideTip();
      return;
    }
    const wrap = seg.closest('.rep-bar-wrap');
    if (this.tip.parentNode !== wrap) wrap.append(this.tip);
    setText(this.tip, seg.dataset.tip);
    setData(this.tip, 'at', seg.dataset.at);
    setData(this.tip, 'base', seg.dataset.base);
    this.tip.hidden = false;
  }

  hideTip() {
    this.tip.hidden = true;
  }

  /** Fetch the CSV of the report on screen (or of the form) and save it as a file. */
  async download() {
    const params = this.shown ?? this.params();
    const button = $('#rep-download');
    if (!params) return;
    button.disabled = true;
    setData(button, 'state', 'loading');
    try {
      const res = await fetch(`/api/reports/presence?${reportQuery(params, 'csv')}`, {
        headers: { Authorization: `Bearer ${this.deps.token()}`, Accept: 'text/csv' },
      });
      if (!res.ok) throw new Error(await failure(res));
      const url = URL.createObjectURL(await res.blob());
      const link = h('a', { href: url, download: csvFileName(params.date, params.team), hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      // Revoked later: revoking at once can cancel a download that has not started.
      setTimeout(() => URL.revokeObjectURL(url), 30_000);
      setData(button, 'state', 'done');
    } catch (err) {
      setData(button, 'state', 'error');
      this.notice(`Could not download the CSV: ${err.message}`);
    } finally {
      button.disabled = false;
    }
  }
}
