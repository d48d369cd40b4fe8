import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Counts } from '../js/counts.js';
import {
  capacityUse, comparator, insertionIndex, matches, NO_FILTER, sortArrow, toggleSort, visibleAgents, withFilter,
} from '../js/query.js';
import { thresholdLevel } from '../js/thresholds.js';
import { readHistory, timeline } from '../js/timeline.js';

const a = (agent_id, name, extra = {}) => ({
  agent_id, name, team: 'support', status_id: 'available', text: 'Available', base: 'available',
  source: 'auto', reason: 'sign_in', since: 0, connections: 1, grace_until: null,
  capacity: { units_total: 100, units_used: 0, profiles: [], sessions: 0, session_limit: 10 },
  version: 1, ...extra,
});

const ada = a('A1', 'Ada Lovelace');
const alan = a('A3', 'Alan Turing', { team: 'sales', base: 'away', status_id: 'away-training', text: 'Away – In training', since: 50 });
const grace = a('A2', 'Grace Hopper', { base: 'offline', status_id: 'offline', text: 'Offline', connections: 0, grace_until: 9000, since: 10 });

test('filters combine team, base or status, and name words', () => {
  assert.ok(matches(ada, NO_FILTER));
  assert.ok(!matches(ada, { ...NO_FILTER, team: 'sales' }));
  assert.ok(matches(alan, { ...NO_FILTER, status: 'base:away' }));
  assert.ok(matches(alan, { ...NO_FILTER, status: 'status:away-training' }));
  assert.ok(!matches(ada, { ...NO_FILTER, status: 'status:away-training' }));
  assert.ok(matches(alan, { ...NO_FILTER, text: 'turing al' }));
  assert.ok(matches(alan, { ...NO_FILTER, text: 'a3' }), 'the id matches too');
  assert.ok(!matches(alan, { ...NO_FILTER, text: 'ada' }));
});

test('sorting works on every column, with ties broken by name', () => {
  const all = [grace, alan, ada];
  const ids = (col, dir) => visibleAgents(all, NO_FILTER, comparator(col, dir)).map((x) => x.agent_id);
  assert.deepEqual(ids('name', 'asc'), ['A1', 'A3', 'A2']);
  assert.deepEqual(ids('name', 'desc'), ['A2', 'A3', 'A1']);
  assert.deepEqual(ids('presence', 'asc'), ['A1', 'A3', 'A2']);
  assert.deepEqual(ids('since', 'asc'), ['A3', 'A2', 'A1'], 'ascending: shortest time in status first');
  assert.deepEqual(ids('team', 'asc'), ['A3', 'A1', 'A2']);
  assert.deepEqual(ids('grace', 'asc'), ['A2', 'A1', 'A3']);
  assert.deepEqual(ids('connections', 'asc'), ['A2', 'A1', 'A3']);
});

test('the insertion index keeps a sorted list sorted', () => {
  const cmp = comparator('name', 'asc');
  const sorted = [ada, grace];
  assert.equal(insertionIndex(sorted, alan, cmp), 1);
  assert.equal(insertionIndex([], alan, cmp), 0);
  assert.equal(insertionIndex(sorted, a('Z', 'Zed'), cmp), 2);
});

test('clicking a header sorts ascending, clicking again flips', () => {
  let sort = { column: 'name', dir: 'asc' };
  sort = toggleSort(sort, 'name');
  assert.deepEqual(sort, { column: 'name', dir: 'desc' });
  assert.deepEqual(toggleSort(sort, 'team'), { column: 'team', dir: 'asc' });
});

test('capacity use reads units, else profiles, else sessions', () => {
  assert.equal(capacityUse({ units_total: 100, units_used: 25, profiles: [] }), 0.25);
  assert.equal(capacityUse({ units_total: null, units_used: 0,
    profiles: [{ max: 3, used: 1 }, { max: 1, used: 1 }] }), 0.5);
  assert.equal(capacityUse({ units_total: null, profiles: [], sessions: 2, session_limit: 10 }), 0.2);
});

test('counts per base and per custom status follow changes', () => {
  const counts = Counts.of([ada, alan, grace]);
  assert.equal(counts.total, 3);
  assert.equal(counts.byBase.get('away'), 1);
  assert.deepEqual(counts.customsOf('away'), [{ id: 'away-training', text: 'Away – In training', n: 1 }]);
  counts.change(alan, { ...alan, status_id: 'away', text: 'Appear away' });
  assert.equal(counts.byBase.get('away'), 1);
  assert.deepEqual(counts.customsOf('away'), []);
  counts.change(ada, { ...ada, base: 'busy', status_id: 'busy' });
  assert.equal(counts.byBase.get('available'), 0);
  assert.equal(counts.byBase.get('busy'), 1);
});

test('the timeline clips to the day and totals per status', () => {
  const e = (at, status_id, base) => ({ at, status_id, text: status_id, base, source: 'manual', reason: 'manual' });
  const { segments, totals } = timeline([e(300, 'busy', 'busy'), e(100, 'available', 'available')], 0, 1000);
  assert.deepEqual(segments.map((s) => [s.start, s.end, s.base]),
    [[0, 100, 'unknown'], [100, 300, 'available'], [300, 1000, 'busy']]);
  assert.deepEqual(totals.map((t) => [t.status_id, t.ms]), [['busy', 700], ['available', 200]]);
});

test('with no entries today the current status fills the day', () => {
  const current = { status_id: 'away', text: 'Appear away', base: 'away', since: -50 };
  const { segments } = timeline([], 0, 1000, current);
  assert.deepEqual(segments.map((s) => [s.start, s.end, s.status_id]), [[0, 1000, 'away']]);
});

test('a history object with intervals reads as segments, unknown time marked', () => {
  const body = {
    intervals: [
      { start: 0, end: 100, status_id: 'offline', text: 'Offline', base: 'offline', source: 'system', reason: 'no_history' },
      { start: 100, end: 400, status_id: 'away', text: 'Appear away', base: 'away', source: 'manual', reason: 'manual' },
    ],
    changes: [{ at: 100, status_id: 'away', text: 'Appear away', base: 'away' }],
  };
  const { segments, totals, changes } = readHistory(body, 0, 400);
  assert.deepEqual(segments.map((s) => s.base), ['unknown', 'away']);
  assert.deepEqual(totals, [{ status_id: 'away', text: 'Appear away', base: 'away', ms: 300 }]);
  assert.equal(changes.length, 1);
  assert.equal(readHistory([], 0, 10, null).segments.length, 1, 'a plain list still works');
});

test('withFilter changes one field and leaves the filter it was given', () => {
  const byTeam = withFilter(NO_FILTER, 'team', 'sales');
  const rest = { threshold: '', hideSignedOut: false };
  assert.deepEqual(byTeam, { team: 'sales', status: '', text: '', ...rest });
  assert.deepEqual(NO_FILTER, { team: '', status: '', text: '', ...rest });
  const both = withFilter(byTeam, 'status', 'base:away');
  assert.deepEqual(both, { team: 'sales', status: 'base:away', text: '', ...rest });
  assert.equal(byTeam.status, '');
  assert.deepEqual(visibleAgents([ada, alan, grace], both, comparator('name')), [alan]);
});

test('the sort arrow points up for ascending, down for descending, only on the sorted column', () => {
  assert.equal(sortArrow({ column: 'since', dir: 'asc' }, 'since'), '▲');
  assert.equal(sortArrow({ column: 'since', dir: 'desc' }, 'since'), '▼');
  assert.equal(sortArrow({ column: 'since', dir: 'asc' }, 'name'), '');
});

test('agents who never signed in sort after all others in both directions', () => {
  const never = a('A0', 'Aaron', { base: 'offline', status_id: 'offline', reason: 'never_signed_in', connections: 0, since: 99 });
  const all = [never, grace, alan, ada];
  for (const dir of ['asc', 'desc']) {
    for (const col of ['name', 'since', 'presence']) {
      const ids = visibleAgents(all, NO_FILTER, comparator(col, dir)).map((x) => x.agent_id);
      assert.equal(ids.at(-1), 'A0', `${col} ${dir}`);
    }
  }
});

test('hide signed-out drops agents signed out outside grace, keeps those in grace', () => {
  const out = a('A5', 'Out', { base: 'offline', status_id: 'offline', connections: 0, signed_in: false });
  const hide = { ...NO_FILTER, hideSignedOut: true };
  assert.ok(!matches(out, hide));
  assert.ok(matches(out, NO_FILTER));
  assert.ok(matches({ ...grace, signed_in: false }, hide), 'in grace: shown');
  assert.ok(matches({ ...ada, signed_in: true }, hide));
});

test('the over-threshold filter keeps agents with a level', () => {
  const over = { ...NO_FILTER, threshold: 'over' };
  assert.ok(matches(ada, over, 'warn'));
  assert.ok(matches(ada, over, 'alert'));
  assert.ok(!matches(ada, over, null));
});

test('team sort uses team names when known', () => {
  const names = new Map([['support', 'Zulu support'], ['sales', 'Alpha sales']]);
  const ids = visibleAgents([ada, alan], NO_FILTER, comparator('team', 'asc', names)).map((x) => x.agent_id);
  assert.deepEqual(ids, ['A3', 'A1']);
});

test('threshold levels: own status first, then base; warn and alert at their seconds', () => {
  const t = { busy: { warn: 60, alert: 120 }, 'busy-bo': { warn: 600, alert: 900 } };
  const busy = { status_id: 'busy', base: 'busy', since: 0 };
  assert.equal(thresholdLevel(t, busy, 59_999), null);
  assert.equal(thresholdLevel(t, busy, 60_000), 'warn');
  assert.equal(thresholdLevel(t, busy, 120_000), 'alert');
  assert.equal(thresholdLevel(t, { ...busy, status_id: 'busy-bo' }, 120_000), null);
  assert.equal(thresholdLevel(t, { ...busy, status_id: 'busy-lunch' }, 120_000), 'alert');
  assert.equal(thresholdLevel(t, { ...busy, reason: 'never_signed_in' }, 10 ** 9), null);
  assert.equal(thresholdLevel({}, busy, 10 ** 9), null);
});
