// Filtering and sorting of the supervisor table. Pure.
import { BASES } from './statuses.js';

/**
 * What the table shows: `status` is '' | 'base:<base>' | 'status:<id>'; '' means any;
 * `threshold` 'over' keeps agents over a time-in-status threshold; `hideSignedOut`
 * drops agents who are signed out and not in a grace window.
 * @typedef {{team: string, status: string, text: string, threshold: string, hideSignedOut: boolean}} Filter
 */
/** @typedef {{column: string, dir: 'asc' | 'desc'}} Sort */
/** @typedef {(a: object, b: object) => number} Comparator */

/** @type {Readonly<Filter>} */
export const NO_FILTER = Object.freeze({ team: '', status: '', text: '', threshold: '', hideSignedOut: false });

/**
 * The filter with one field changed (a reducer: `filter` is not changed).
 * @param {Filter} filter
 * @param {'team' | 'status' | 'text' | 'threshold' | 'hideSignedOut'} name
 * @param {string | boolean} value
 * @returns {Filter}
 */
export function withFilter(filter, name, value) {
  return { ...filter, [name]: value };
}

/**
 * Whether an agent is signed out and outside any grace window.
 * @param {object} agent an agent view
 * @returns {boolean}
 */
export function isSignedOut(agent) {
  return !agent.signed_in && !agent.connections && (agent.grace_until ?? null) === null;
}

/**
 * Whether an agent never signed in (it sorts after everyone else).
 * @param {object} agent an agent view
 * @returns {boolean}
 */
export function neverSignedIn(agent) {
  return agent.reason === 'never_signed_in';
}

/**
 * Whether an agent view passes the filter; `level` is its threshold level now.
 * @param {object} agent an agent view
 * @param {Filter} filter
 * @param {string | null} [level]
 * @returns {boolean}
 */
export function matches(agent, filter, level = null) {
  if (filter.hideSignedOut && isSignedOut(agent)) return false;
  if (filter.threshold === 'over' && !level) return false;
  if (filter.threshold && filter.threshold !== 'over' && level !== filter.threshold) return false;
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

/** Sort key of one column; keys compare with `<` (strings are lower-cased). `names`
 *  maps team ids to names. "In status" sorts by time in it: ascending = shortest first. */
export const COLUMNS = Object.freeze({
  name: (a) => (a.name || a.agent_id).toLowerCase(),
  team: (a, names) => (names?.get(a.team) ?? a.team ?? '').toLowerCase(),
  presence: (a) => `${baseRank.get(a.base) ?? 9}|${a.text.toLowerCase()}`,
  source: (a) => `${a.source}|${a.reason}`,
  since: (a) => -a.since,
  connections: (a) => a.connections,
  capacity: (a) => capacityUse(a.capacity),
  sessions: (a) => a.capacity?.sessions ?? 0,
  grace: (a) => (a.grace_until ?? Number.MAX_SAFE_INTEGER),
});

/**
 * A comparator for column `column` in `dir` ('asc' | 'desc'); ties break on name, id.
 * Agents who never signed in come after all others in either direction.
 * @param {string} column a key of COLUMNS
 * @param {'asc' | 'desc'} [dir]
 * @param {Map<string, string>} [teamNames] team id → name
 * @returns {Comparator}
 */
export function comparator(column, dir = 'asc', teamNames = new Map()) {
  const key = COLUMNS[column] ?? COLUMNS.name;
  const sign = dir === 'desc' ? -1 : 1;
  return (a, b) => {
    const never = Number(neverSignedIn(a)) - Number(neverSignedIn(b));
    if (never) return never;
    const ka = key(a, teamNames);
    const kb = key(b, teamNames);
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
 * @param {(agent: object) => string | null} [level] an agent's threshold level
 * @returns {object[]}
 */
export function visibleAgents(agents, filter, cmp, level = () => null) {
  return [...agents].filter((a) => matches(a, filter, level(a))).sort(cmp);
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
  for (const c of customs) out.push([`status:${c.id}`, `${c.text} (counts as ${labels[c.base]})`]);
  return out;
}

/**
 * The arrow shown on the sorted column: ▲ ascending, ▼ descending, '' elsewhere.
 * @param {Sort} sort
 * @param {string} column
 * @returns {string}
 */
export function sortArrow(sort, column) {
  if (sort.column !== column) return '';
  return sort.dir === 'asc' ? '▲' : '▼';
}
