// A day's presence timeline from history entries, for the supervisor drill-down. Pure.

/**
 * entries: [{status_id, text, base, source, reason, at, ...}] in any order, `at` in ms.
 * → {segments: [{start, end, status_id, text, base, source, reason, actor}],
 * totals: [{status_id, text, base, ms}] (longest first)}
 * With no entry in range, `current` (the presence now, with `since` in ms) fills the
 * range from its `since`. Time before the first known entry is a segment of base 'unknown'.
 * @param {object[]} entries
 * @param {number} from
 * @param {number} to
 * @param {object | null} [current]
 * @returns {{segments: object[], totals: object[]}}
 */
export function timeline(entries, from, to, current = null) {
  const sorted = entries.filter((e) => e.at <= to).sort((a, b) => a.at - b.at);
  if (!sorted.length && current && current.since <= to) {
    sorted.push({ ...current, at: current.since });
  }
  const segments = [];
  for (let i = 0; i < sorted.length; i += 1) {
    const e = sorted[i];
    const start = Math.max(e.at, from);
    const end = i + 1 < sorted.length ? Math.min(sorted[i + 1].at, to) : to;
    if (end <= start) continue;
    segments.push({
      start, end, status_id: e.status_id, text: e.text, base: e.base,
      source: e.source, reason: e.reason, actor: e.actor ?? null,
    });
  }
  const first = segments.length ? segments[0].start : to;
  if (first > from && !sorted.some((e) => e.at <= from)) {
    segments.unshift({
      start: from, end: first, status_id: null, text: 'No record', base: 'unknown',
      source: null, reason: null, actor: null,
    });
  }
  return { segments, totals: totalsOf(segments) };
}

function totalsOf(segments) {
  const byStatus = new Map();
  for (const s of segments) {
    if (s.base === 'unknown') continue;
    const t = byStatus.get(s.status_id) ?? { status_id: s.status_id, text: s.text, base: s.base, ms: 0 };
    t.ms += s.end - s.start;
    byStatus.set(s.status_id, t);
  }
  return [...byStatus.values()].sort((a, b) => b.ms - a.ms);
}

/**
 * Read a history answer in either shape the server may give: a plain list of changes,
 * or {intervals: [{start, end, status_id, text, base, source, reason, actor}], changes}.
 * → {segments, totals, changes}; time with no known history counts as 'unknown'.
 * @param {object[] | {intervals: object[], changes?: object[]}} body
 * @param {number} from
 * @param {number} to
 * @param {object | null} [current]
 * @returns {{segments: object[], totals: object[], changes: object[]}}
 */
export function readHistory(body, from, to, current = null) {
  if (Array.isArray(body)) {
    return { ...timeline(body, from, to, current), changes: body };
  }
  const segments = (body?.intervals ?? []).map((i) => {
    const unknown = i.reason === 'no_history';
    return {
      start: i.start, end: i.end, status_id: unknown ? null : i.status_id,
      text: unknown ? 'No record' : i.text, base: unknown ? 'unknown' : i.base,
      source: i.source, reason: i.reason, actor: i.actor ?? null,
    };
  });
  return { segments, totals: totalsOf(segments), changes: body?.changes ?? [] };
}
