// Filtering and sorting of the supervisor table. Pure.
import { BASES } from './statuses.js';

/**
 * What the table shows: `status` is '' | 'base:<base>' | 'status:<id>'; '' means any.
 * @typedef {{team: string, status: string, text: string}} Filter
 */
/** @typedef {{column: string, dir: 'asc' | 'desc'}} Sort */
/** @typedef {(a: object, b: object) => number} Comparator */

/** @type {Readonly<Filter>} */
export const NO_FILTER = Object.freeze({ team: '', status: '', text: '' });

/**
 * The filter with one field changed (a reducer: `filter` is not changed).
 * @param {Filter} filter
 * @param {'team' | 'status' | 'text'} name
 * @param {string} value
 * @returns {Filter}
 */
export function withFilter(filter, name, value) {
  return { ...filter, [name]: value };
}

/**
 * Whether an agent view passes the filter.
 * @param {object} agent an agent view
 * @param {Filter} filter
 * @returns {boolean}
 */
export function matches(agent, filter) {
  if (filter.team && agent.team !== filter.team) return false;
  if (filter.status) {
    const [kind, value] = splitOnce(filter.status, ':');
    if (kind === 'base' && agent.base !== value) return false;
    if (kind === 'status' && agent.status_id !== value) return false;
  }
  const text = filter.text.trim().toLowerCase();
  if (text) {
    const hay = `${agent.name ?? ''} ${agent.agent_id}`.toLowerCase();
    if (!text.split(/\s+/).every((word) => hay.includes(word))) return false;
  }
  return true;
}

function splitOnce(s, sep) {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)];
}

const baseRank = new Map(BASES.map((b, i) => [b, i]));

/**
 * Capacity in use as a fraction 0..1 (units, else profiles, else sessions).
 * @param {object | null} cap an agent view's `capacity`
 * @returns {number}
 */
export function capacityUse(cap) {
  if (!cap) return 0;
  if (cap.units_total) return cap.units_used / cap.units_total;
  const profiles = cap.profiles ?? [];
  if (profiles.length) {
    const max = profiles.reduce((n, p) => n + p.max, 0);
    return max ? profiles.reduce((n, p) => n + p.used, 0) / max : 0;
  }
  return cap.session_limit ? cap.sessions / cap.session_limit : 0;
}

/** Sort key of one column; keys compare with `<` (strings are lower-cased). */
export const COLUMNS = Object.freeze({
  name: (a) => (a.name || a.agent_id).toLowerCase(),
  team: (a) => (a.team ?? '').toLowerCase(),
  presence: (a) => `${baseRank.get(a.base) ?? 9}|${a.text.toLowerCase()}`,
  source: (a) => `${a.source}|${a.reason}`,
  since: (a) => a.since,
  connections: (a) => a.connections,
  capacity: (a) => capacityUse(a.capacity),
  sessions: (a) => a.capacity?.sessions ?? 0,
  grace: (a) => (a.grace_until ?? Number.MAX_SAFE_INTEGER),
});

/**
 * A comparator for column `column` in `dir` ('asc' | 'desc'); ties break on name, id.
 * @param {string} column a key of COLUMNS
 * @param {'asc' | 'desc'} [dir]
 * @returns {Comparator}
 */
export function comparator(column, dir = 'asc') {
  const key = COLUMNS[column] ?? COLUMNS.name;
  const sign = dir === 'desc' ? -1 : 1;
  return (a, b) => {
    const ka = key(a);
    const kb = key(b);
    if (ka < kb) return -sign;
    if (ka > kb) return sign;
    const na = COLUMNS.name(a);
    const nb = COLUMNS.name(b);
    if (na !== nb) return na < nb ? -1 : 1;
    return a.agent_id < b.agent_id ? -1 : a.agent_id > b.agent_id ? 1 : 0;
  };
}

/**
 * The sorted, filtered list of agents.
 * @param {object[]} agents
 * @param {Filter} filter
 * @param {Comparator} cmp
 * @returns {object[]}
 */
export function visibleAgents(agents, filter, cmp) {
  return [...agents].filter((a) => matches(a, filter)).sort(cmp);
}

/**
 * Index at which `agent` belongs in the sorted array `sorted` (binary search).
 * @param {object[]} sorted
 * @param {object} agent
 * @param {Comparator} cmp
 * @returns {number}
 */
export function insertionIndex(sorted, agent, cmp) {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp(sorted[mid], agent) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The next sort state after clicking column header `column`.
 * @param {Sort} sort
 * @param {string} column
 * @returns {Sort}
 */
export function toggleSort(sort, column) {
  if (sort.column === column) return { column, dir: sort.dir === 'asc' ? 'desc' : 'asc' };
  return { column, dir: 'asc' };
}

/**
 * Options of the status filter: bases, then each custom status seen, as [value, label].
 * @param {Object<string, string>} labels base → label
 * @param {{id: string, text: string}[]} customs
 * @returns {[string, string][]}
 */
export function statusOptions(labels, customs) {
  const out = BASES.map((b) => [`base:${b}`, labels[b]]);
  for (const c of customs) out.push([`status:${c.id}`, `${c.text} (${labels[c.base]})`]);
  return out;
}
