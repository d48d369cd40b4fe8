// The Reports view's data shaping: a local day as a from/to range, the presence report
// (GET /api/reports/presence) as stacked-bar segments, drill-down rows and team totals,
// durations as hh:mm:ss and shares as percentages. Pure: no DOM, no I/O.
import { BASE_LABELS, BASES } from './statuses.js';

const pad = (n) => String(n).padStart(2, '0');

/**
 * "YYYY-MM-DD" of the local day containing the epoch-ms instant `ms`.
 * @param {number} ms
 * @returns {string}
 */
export function localDate(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/**
 * The local day "YYYY-MM-DD" as epoch ms `{from, to}`: local midnight to the next local
 * midnight (23 or 25 hours on a daylight-saving change); null for anything else.
 * @param {string} date
 * @returns {{from: number, to: number} | null}
 */
export function dayRange(date) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date ?? '');
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]) - 1, Number(m[3])];
  const from = new Date(y, mo, d);
  if (from.getFullYear() !== y || from.getMonth() !== mo || from.getDate() !== d) return null;
  return { from: from.getTime(), to: new Date(y, mo, d + 1).getTime() };
}

/**
 * Seconds as "hh:mm:ss" (rounded to the second; hours go past 24 for long totals).
 * @param {number} seconds
 * @returns {string}
 */
export function hms(seconds) {
  const total = Math.max(0, Math.round(seconds));
  const h = Math.floor(total / 3600);
  return `${pad(h)}:${pad(Math.floor((total % 3600) / 60))}:${pad(total % 60)}`;
}

/**
 * `part` as a percentage of `whole` (0 when `whole` is 0).
 * @param {number} part
 * @param {number} whole
 * @returns {number}
 */
export function percent(part, whole) {
  return whole > 0 ? (part / whole) * 100 : 0;
}

/**
 * "12.5%", "<0.1%" for a sliver, "0%" for nothing.
 * @param {number} pct
 * @returns {string}
 */
export function percentText(pct) {
  if (pct <= 0) return '0%';
  if (pct < 0.1) return '<0.1%';
  return `${pct.toFixed(1).replace(/\.0$/, '')}%`;
}

/** Lay out `parts` ({seconds, …}) end to end over `whole` seconds: each gets `pct`, and
 *  `x` and `width` in percent of the bar. Parts with no time are left out. */
function layout(parts, whole) {
  let x = 0;
  const out = [];
  for (const part of parts) {
    if (!(part.seconds > 0)) continue;
    const pct = percent(part.seconds, whole);
    out.push({ ...part, pct, x, width: pct });
    x += pct;
  }
  return out;
}

function baseOrder(bases) {
  const byBase = new Map((bases ?? []).map((b) => [b.base, b]));
  return BASES.filter((b) => byBase.has(b)).map((b) => byBase.get(b));
}

/**
 * One bar: segments per base in BASES order, each with its statuses. `item` is an agent
 * or team of the report. → [{base, label, seconds, pct, x, width, statuses}]
 * @param {object} item
 * @returns {object[]}
 */
export function baseSegments(item) {
  const whole = item.seconds;
  return layout(baseOrder(item.bases).map((b) => ({
    base: b.base,
    label: BASE_LABELS[b.base] ?? b.base,
    seconds: b.seconds,
    statuses: b.statuses ?? [],
  })), whole);
}

/**
 * The drill-down bar: one segment per status (custom ones with their own text), bases in
 * BASES order and statuses in the report's order under each. `shade` tells apart the
 * statuses of one base (0 for the first, then 1, 2, … up to 3).
 * → [{base, status_id, text, custom, seconds, pct, x, width, shade}]
 * @param {object} item
 * @returns {object[]}
 */
export function statusSegments(item) {
  const parts = [];
  for (const b of baseOrder(item.bases)) {
    let shade = 0;
    for (const s of b.statuses ?? []) {
      if (!(s.seconds > 0)) continue;
      parts.push({
        base: b.base, status_id: s.status_id, text: s.text, custom: Boolean(s.custom),
        seconds: s.seconds, shade: Math.min(shade, 3),
      });
      shade += 1;
    }
  }
  return layout(parts, item.seconds);
}

/**
 * The drill-down list: bases with time, each with its statuses and their shares of the
 * whole range. → [{base, label, seconds, pct, statuses: [{…status, pct, shade}]}]
 * @param {object} item
 * @returns {object[]}
 */
export function drillRows(item) {
  const shades = new Map(statusSegments(item).map((s) => [s.status_id, s.shade]));
  return baseOrder(item.bases).filter((b) => b.seconds > 0).map((b) => ({
    base: b.base,
    label: BASE_LABELS[b.base] ?? b.base,
    seconds: b.seconds,
    pct: percent(b.seconds, item.seconds),
    statuses: (b.statuses ?? []).filter((s) => s.seconds > 0).map((s) => ({
      status_id: s.status_id, text: s.text, custom: Boolean(s.custom), seconds: s.seconds,
      pct: percent(s.seconds, item.seconds), shade: shades.get(s.status_id) ?? 0,
    })),
  }));
}

/**
 * Seconds in `base` of an agent or team (0 when absent).
 * @param {object} item
 * @param {string} base
 * @returns {number}
 */
export function baseSeconds(item, base) {
  return (item.bases ?? []).find((b) => b.base === base)?.seconds ?? 0;
}

/**
 * The chart: teams in the report's order, each with its totals bar and its agents' bars.
 * → [{team (null: no team), agents: n, seconds, segments, members: [{agent_id, name,
 * team, seconds, segments, item}]}]
 * @param {object | null} report the presence report
 * @returns {object[]}
 */
export function chartGroups(report) {
  const groups = new Map();
  for (const t of report?.teams ?? []) {
    groups.set(t.team ?? null, {
      team: t.team ?? null, agents: t.agents, seconds: t.seconds, item: t,
      segments: baseSegments(t), members: [],
    });
  }
  for (const a of report?.agents ?? []) {
    const key = a.team ?? null;
    if (!groups.has(key)) {
      groups.set(key, { team: key, agents: 0, seconds: 0, item: null, segments: [], members: [] });
    }
    groups.get(key).members.push({
      agent_id: a.agent_id, name: a.name || a.agent_id, team: key, seconds: a.seconds,
      segments: baseSegments(a), item: a,
    });
  }
  return [...groups.values()];
}

/**
 * Bases with time anywhere in the report, in BASES order (the legend).
 * @param {object | null} report
 * @returns {string[]}
 */
export function legendBases(report) {
  const seen = new Set();
  for (const item of [...(report?.agents ?? []), ...(report?.teams ?? [])]) {
    for (const b of item.bases ?? []) if (b.seconds > 0) seen.add(b.base);
  }
  return BASES.filter((b) => seen.has(b)).map((b) => ({ base: b, label: BASE_LABELS[b] }));
}

/**
 * What a segment's tooltip says: "Away – In training · 00:09:00 · 3.1%".
 * @param {object} seg a segment of baseSegments or statusSegments
 * @returns {string}
 */
export function segmentText(seg) {
  const label = seg.status_id ? seg.text : seg.label;
  const base = seg.status_id && seg.custom ? ` (${BASE_LABELS[seg.base] ?? seg.base})` : '';
  return `${label}${base} · ${hms(seg.seconds)} · ${percentText(seg.pct)}`;
}

/**
 * Which of `steps` + 1 tooltip anchors (0 … steps) is nearest the segment's middle.
 * @param {{x: number, width: number}} seg
 * @param {number} [steps]
 * @returns {number}
 */
export function tipAnchor(seg, steps = 20) {
  const mid = seg.x + seg.width / 2;
  return Math.min(steps, Math.max(0, Math.round((mid / 100) * steps)));
}

/**
 * The query string of a report request (`format`: 'json' or 'csv').
 * @param {{from: number, to: number, team?: string}} range
 * @param {'json' | 'csv'} [format]
 * @returns {string}
 */
export function reportQuery({ from, to, team = '' }, format = 'json') {
  const q = new URLSearchParams({ from: String(from), to: String(to) });
  if (team) q.set('team', team);
  if (format === 'csv') q.set('format', 'csv');
  return q.toString();
}

/**
 * The CSV download's file name: presence-<date>-<team>.csv ("all" without a team).
 * @param {string} date
 * @param {string} team
 * @returns {string}
 */
export function csvFileName(date, team) {
  const safe = (team || 'all').replace(/[^A-Za-z0-9._-]+/g, '_');
  return `presence-${date}-${safe}.csv`;
}

/**
 * A shift of the local day `date` as epoch ms `{from, to}`: from `start` to `end`
 * ("HH:MM"; empty: the day's start or end); an end at or before the start is on the
 * next day (a night shift). Null when the day or a time is not valid.
 * @param {string} date "YYYY-MM-DD"
 * @param {string} [start]
 * @param {string} [end]
 * @returns {{from: number, to: number} | null}
 */
export function shiftRange(date, start = '', end = '') {
  const day = dayRange(date);
  if (!day) return null;
  const at = (hhmm, days) => {
    const m = /^(\d{2}):(\d{2})$/.exec(hhmm);
    if (!m || Number(m[1]) > 23 || Number(m[2]) > 59) return null;
    const d = new Date(day.from);
    return new Date(d.getFullYear(), d.getMonth(), d.getDate() + days, Number(m[1]), Number(m[2])).getTime();
  };
  const from = start ? at(start, 0) : day.from;
  let to = end ? at(end, 0) : day.to;
  if (from === null || to === null) return null;
  if (to <= from) to = end ? at(end, 1) : day.to;
  return { from, to };
}

/**
 * An agent or team counting signed-in time only: Offline time (before the first status
 * of the range and while Offline) is left out of its total and so of every share.
 * @param {object} item an agent or team of the presence report
 * @returns {object}
 */
export function signedInOnly(item) {
  const bases = (item.bases ?? []).filter((b) => b.base !== 'offline');
  return { ...item, bases, seconds: bases.reduce((n, b) => n + b.seconds, 0) };
}

/**
 * The report with every agent and team counting signed-in time only.
 * @param {object} report the presence report
 * @returns {object}
 */
export function signedInReport(report) {
  return { ...report, agents: report.agents.map(signedInOnly), teams: report.teams.map(signedInOnly) };
}

/**
 * The chart's groups with each team's agents sorted: by name when `base` is '', else
 * by their share of `base`, largest first (`dir` 'asc' for smallest first); ties by name.
 * @param {object[]} groups chartGroups' result
 * @param {string} base
 * @param {'asc' | 'desc'} [dir]
 * @returns {object[]}
 */
export function sortGroups(groups, base, dir = 'desc') {
  const sign = dir === 'asc' ? 1 : -1;
  const share = (m) => percent(baseSeconds(m.item, base), m.seconds);
  const byName = (a, b) => a.name.localeCompare(b.name) || (a.agent_id < b.agent_id ? -1 : 1);
  return groups.map((g) => ({
    ...g,
    members: [...g.members].sort(base ? (a, b) => sign * (share(a) - share(b)) || byName(a, b) : byName),
  }));
}
