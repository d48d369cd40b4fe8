// The supervisor's agent table: one row per agent, kept by agent id. An event updates
// only the cells whose content changed and moves the row only when its sort position
// changed; one timer pass refreshes every visible "in status" and grace cell.
import { comparator, insertionIndex, matches, NO_FILTER } from '../js/query.js';
import { BASE_LABELS, BASE_SHORT, isCustom, reasonText } from '../js/statuses.js';
import { LEVEL_TEXT } from '../js/thresholds.js';
import { formatDuration, secondsLeft } from '../js/time.js';
import { h, setData, setText } from './dom.js';

const SOURCE_LABELS = {
  default: 'Default', auto: 'Automatic', manual: 'Manual', system: 'System',
  restored: 'Restored', supervisor: 'Supervisor',
};

function capacityText(cap) {
  if (!cap) return '—';
  const parts = [];
  if (cap.units_total !== null && cap.units_total !== undefined) parts.push(`${cap.units_used}/${cap.units_total} units`);
  for (const p of cap.profiles ?? []) parts.push(`${p.id} ${p.used}/${p.max}`);
  return parts.length ? parts.join(' · ') : 'not set';
}

function inGrace(a) {
  return a.grace_until !== null && a.connections === 0;
}

const COLUMNS = ['name', 'team', 'presence', 'source', 'since', 'connections', 'capacity',
  'sessions', 'grace', 'actions'];

function sourceParts(a) {
  const why = a.source === 'supervisor' && a.reason === 'supervisor' ? '' : reasonText(a.reason);
  const who = a.actor ? `by ${a.actor}` : '';
  return [SOURCE_LABELS[a.source] ?? a.source, [who, why].filter(Boolean).join(' · ')];
}

/** Status id → text, for the "next: X" of a row (set from the catalog once loaded). */
let statusText = (id) => BASE_LABELS[id] ?? id;

/**
 * Name next statuses with the catalog's texts.
 * @param {{id: string, text: string}[]} statuses
 * @returns {void}
 */
export function useStatusTexts(statuses) {
  const texts = new Map(statuses.map((s) => [s.id, s.text]));
  statusText = (id) => texts.get(id) ?? BASE_LABELS[id] ?? id;
}

function setDisabled(button, disabled, title = '') {
  if (button.disabled !== disabled) button.disabled = disabled;
  if (button.title !== title) button.title = title;
}

/** One agent's row: its elements are made once, then only changed text and attributes
 *  are written (no element is replaced, so focus and layout stay put). */
class Row {
  constructor(agent, table) {
    this.table = table;
    const c = {};
    this.tr = h('div', { class: 'tr', role: 'row', dataset: { agentId: agent.agent_id } },
      COLUMNS.map((col) => { c[col] = h('div', { class: `td col-${col}`, role: 'cell' }); return c[col]; }));
    this.cells = c;
    this.open = h('button', { type: 'button', class: 'link', dataset: { action: 'open' } });
    this.agentId = h('span', { class: 'agent-id', text: agent.agent_id });
    c.name.append(this.open, this.agentId);
    this.badge = h('span', { class: 'badge' }, h('span', { class: 'mark', 'aria-hidden': 'true' }));
    this.statusText = h('span', { class: 'badge-text' });
    this.baseChip = h('span', { class: 'badge-base', hidden: true });
    this.badge.append(this.statusText, this.baseChip);
    this.next = h('span', { class: 'next-status' });
    c.presence.append(this.badge, this.next);
    this.source = h('span', { class: 'source' });
    this.reason = h('span', { class: 'reason' });
    c.source.append(this.source, this.reason);
    this.level = h('span', { class: 'level', hidden: true });
    this.duration = h('span', { class: 'duration' });
    c.since.append(this.level, this.duration);
    this.force = h('button', { type: 'button', class: 'btn btn-small', dataset: { action: 'force' }, text: 'Set status' });
    this.signOut = h('button', { type: 'button', class: 'btn btn-small btn-quiet', dataset: { action: 'sign-out' }, text: 'Sign out' });
    c.actions.append(h('div', { class: 'row-actions' }, this.force, this.signOut));
    this.update(agent);
  }

  update(a) {
    this.agent = a;
    const c = this.cells;
    const name = a.name || a.agent_id;
    setText(this.open, name);
    setText(c.team, a.team ? this.table.teamName(a.team) : '—');
    const custom = isCustom(a.status_id);
    setData(this.badge, 'base', a.base);
    setText(this.statusText, a.text);
    this.baseChip.hidden = !custom;
    setText(this.baseChip, custom ? BASE_SHORT[a.base] : '');
    c.presence.title = custom ? `${a.text} (counts as ${BASE_LABELS[a.base]})` : a.text;
    setText(this.next, a.next_status_id ? `next: ${statusText(a.next_status_id)}` : '');
    setData(this.tr, 'nextStatusId', a.next_status_id ?? null);
    const [label, detail] = sourceParts(a);
    setText(this.source, label);
    setText(this.reason, detail);
    c.source.title = detail ? `${label}: ${detail}` : label;
    setText(c.connections, String(a.connections));
    setText(c.capacity, capacityText(a.capacity));
    setText(c.sessions, a.capacity ? `${a.capacity.sessions}/${a.capacity.session_limit}` : '—');
    setDisabled(this.force, a.connections === 0,
      a.connections === 0 ? 'Only a connected agent can be given a status' : '');
    setDisabled(this.signOut, !(a.signed_in || inGrace(a)));
    if (this.named !== name) {
      this.named = name;
      this.force.setAttribute('aria-label', `Set status of ${name}`);
      this.signOut.setAttribute('aria-label', `Sign out ${name}`);
    }
    const tr = this.tr;
    setData(tr, 'statusId', a.status_id);
    setData(tr, 'base', a.base);
    setData(tr, 'source', a.source);
    setData(tr, 'version', a.version);
    setData(tr, 'epoch', a.epoch ?? 0);
    setData(tr, 'connections', a.connections);
    setData(tr, 'inGrace', inGrace(a) ? 'true' : null);
  }

  /** Refresh the ticking cells at server time `now`; → whether the threshold level changed. */
  tick(now) {
    const a = this.agent;
    setText(this.duration, formatDuration(now - a.since));
    const level = this.table.level(a, now);
    const changed = level !== (this.tr.dataset.threshold ?? null);
    if (changed) {
      setData(this.tr, 'threshold', level);
      this.level.hidden = !level;
      setText(this.level, level ? (level === 'alert' ? '‼ Alert' : '! Warn') : '');
      this.level.title = level ? LEVEL_TEXT[level] : '';
    }
    if (inGrace(a)) {
      const left = secondsLeft(a.grace_until, now);
      setText(this.cells.grace, left > 0 ? formatDuration(left * 1000) : 'ending…');
      setData(this.cells.grace, 'secondsLeft', left);
    } else {
      setText(this.cells.grace, '');
      setData(this.cells.grace, 'secondsLeft', null);
    }
    return changed;
  }
}

/**
 * The supervisor's agent table (see the top of this file).
 */
export class AgentTable {
  /**
   * Rows go into `tbody`. `now`: server-clock ms; `teamName`: a team id's name;
   * `level`: an agent's time-in-status threshold level at a time.
   * @param {HTMLElement} tbody
   * @param {{now: () => number, teamName: (id: string) => string, level: (agent: object, now: number) => string | null}} deps
   */
  constructor(tbody, { now, teamName, level }) {
    this.tbody = tbody;
    this.now = now;
    this.teamName = teamName;
    this.level = level;
    this.rows = new Map(); // agent id → Row
    this.order = []; // visible agents, sorted
    this.filter = { ...NO_FILTER };
    this.sort = { column: 'name', dir: 'asc' };
    this.cmp = comparator('name', 'asc');
  }

  row(agent) {
    let row = this.rows.get(agent.agent_id);
    if (!row) {
      row = new Row(agent, this);
      this.rows.set(agent.agent_id, row);
    } else {
      row.update(agent);
    }
    return row;
  }

  /** Re-render everything (snapshot, filter or sort change). */
  rebuild(agents) {
    const live = new Set();
    for (const a of agents) live.add(a.agent_id);
    for (const id of [...this.rows.keys()]) if (!live.has(id)) this.rows.delete(id);
    const now = this.now();
    this.order = agents.filter((a) => this.matches(a, now)).sort(this.cmp);
    this.tbody.replaceChildren(...this.order.map((a) => {
      const row = this.row(a);
      row.tick(now);
      return row.tr;
    }));
  }

  /** One agent changed from `before` (the object last placed) to `after`. */
  change(before, after) {
    const row = this.row(after);
    const oldIndex = before ? this.indexOf(before) : -1;
    if (oldIndex >= 0) this.order.splice(oldIndex, 1);
    if (!this.matches(after, this.now())) {
      row.tr.remove();
      return;
    }
    const index = insertionIndex(this.order, after, this.cmp);
    this.order.splice(index, 0, after);
    const next = this.order[index + 1];
    const nextTr = next ? this.rows.get(next.agent_id).tr : null;
    // Move the row only when it is not already in place, so focus inside it survives.
    if (row.tr.parentNode !== this.tbody || row.tr.nextSibling !== nextTr) {
      this.tbody.insertBefore(row.tr, nextTr);
    }
    row.tick(this.now());
  }

  indexOf(agent) {
    const i = insertionIndex(this.order, agent, this.cmp) - 1;
    if (i >= 0 && this.order[i].agent_id === agent.agent_id) return i;
    return this.order.findIndex((a) => a.agent_id === agent.agent_id);
  }

  matches(agent, now) {
    return matches(agent, this.filter, this.filter.threshold ? this.level(agent, now) : null);
  }

  /**
   * @param {import('../js/query.js').Sort} sort the next sort (see toggleSort)
   * @param {Map<string, string>} [teamNames] team id → name, for the team column
   */
  setSort(sort, teamNames = new Map()) {
    this.sort = sort;
    this.cmp = comparator(sort.column, sort.dir, teamNames);
  }

  /** @param {import('../js/query.js').Filter} filter the next filter (see withFilter) */
  setFilter(filter) {
    this.filter = filter;
  }

  /** The single timer pass over the rows; → whether any threshold level changed
   *  (hidden rows are checked too: an agent may cross into the "over" filter). */
  tick() {
    const now = this.now();
    let changed = false;
    for (const row of this.rows.values()) changed = row.tick(now) || changed;
    return changed;
  }
}
