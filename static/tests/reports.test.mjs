import assert from 'node:assert/strict';
import { test } from 'node:test';

// Before any Date is made: a zone with daylight saving, so day lengths vary.
process.env.TZ = 'Europe/Berlin';

const {
  baseSeconds, baseSegments, chartGroups, csvFileName, dayRange, drillRows, hms, legendBases,
  localDate, percentText, reportQuery, segmentText, statusSegments, tipAnchor,
} = await import('../js/reports.js');

const B = (base, statuses) => ({
  base, seconds: statuses.reduce((n, s) => n + s.seconds, 0), statuses,
});
const S = (status_id, seconds, text = status_id, custom = false) => ({ status_id, text, custom, seconds });

// 1 h: 30 min available, 15 min in training (custom, Away), 6 min away, 9 min offline.
const ANN = {
  agent_id: 'A1', name: 'Ann', team: 'T1', seconds: 3600,
  bases: [
    B('available', [S('available', 1800, 'Available')]), B('busy', []), B('dnd', []),
    B('away', [S('away', 360, 'Away'), S('away-training', 900, 'Away – In training', true)]),
    B('offline', [S('offline', 540, 'Offline')]), B('inactive', []),
  ],
};
const BOB = {
  agent_id: 'A2', name: '', team: null, seconds: 3600,
  bases: [B('busy', [S('busy', 3600, 'Busy')])],
};
const REPORT = {
  from: 0, to: 3_600_000, until: 3_600_000, seconds: 3600, team: null, agent: null,
  agents: [ANN, BOB],
  teams: [
    { team: 'T1', agents: 1, seconds: 3600, bases: ANN.bases },
    { team: null, agents: 1, seconds: 3600, bases: BOB.bases },
  ],
};

test('a local day runs from local midnight to the next one', () => {
  const { from, to } = dayRange('2026-01-15');
  assert.equal(from, new Date(2026, 0, 15).getTime());
  assert.equal(to - from, 86_400_000);
  assert.equal(new Date(from).getHours(), 0);
  assert.equal(localDate(from), '2026-01-15');
  assert.equal(localDate(to - 1), '2026-01-15');
  assert.equal(localDate(to), '2026-01-16');
});

test('a day with a daylight-saving change is 23 or 25 hours long', () => {
  const spring = dayRange('2026-03-29');
  assert.equal(spring.to - spring.from, 23 * 3_600_000);
  const autumn = dayRange('2026-10-25');
  assert.equal(autumn.to - autumn.from, 25 * 3_600_000);
  assert.equal(dayRange('2026-12-31').to, dayRange('2027-01-01').from);
});

test('anything but a real calendar date has no range', () => {
  for (const bad of ['', null, undefined, '2026-1-5', '2026-02-30', '2026-13-01', 'today']) {
    assert.equal(dayRange(bad), null, String(bad));
  }
});

test('durations read as hh:mm:ss, rounded, with hours past a day', () => {
  assert.equal(hms(0), '00:00:00');
  assert.equal(hms(-3), '00:00:00');
  assert.equal(hms(59.4), '00:00:59');
  assert.equal(hms(59.5), '00:01:00');
  assert.equal(hms(3723), '01:02:03');
  assert.equal(hms(126 * 3600 + 5), '126:00:05');
});

test('percentages have one decimal at most, and slivers are not shown as zero', () => {
  assert.equal(percentText(0), '0%');
  assert.equal(percentText(0.04), '<0.1%');
  assert.equal(percentText(12.5), '12.5%');
  assert.equal(percentText(25), '25%');
  assert.equal(percentText(100), '100%');
});

test('a bar has one segment per base with time, in base order, laid end to end', () => {
  const segs = baseSegments(ANN);
  assert.deepEqual(segs.map((s) => [s.base, s.seconds, s.x, s.width]), [
    ['available', 1800, 0, 50], ['away', 1260, 50, 35], ['offline', 540, 85, 15],
  ]);
  assert.equal(segs[1].label, 'Away');
  assert.equal(segs[1].statuses.length, 2);
  assert.equal(segs.reduce((n, s) => n + s.pct, 0), 100);
});

test('bases come in base order whatever order the report lists them in', () => {
  const shuffled = { ...ANN, bases: [...ANN.bases].reverse() };
  assert.deepEqual(baseSegments(shuffled).map((s) => s.base), ['available', 'away', 'offline']);
});

test('the drill-down bar has one segment per status, told apart within a base', () => {
  const segs = statusSegments(ANN);
  assert.deepEqual(segs.map((s) => [s.status_id, s.base, s.seconds, s.x, s.width, s.shade, s.custom]), [
    ['available', 'available', 1800, 0, 50, 0, false],
    ['away', 'away', 360, 50, 10, 0, false],
    ['away-training', 'away', 900, 60, 25, 1, true],
    ['offline', 'offline', 540, 85, 15, 0, false],
  ]);
  assert.equal(segs[2].text, 'Away – In training');
});

test('drill-down rows list the bases with time and their statuses with shares', () => {
  const rows = drillRows(ANN);
  assert.deepEqual(rows.map((r) => [r.base, r.label, r.seconds, r.pct]), [
    ['available', 'Available', 1800, 50], ['away', 'Away', 1260, 35], ['offline', 'Offline', 540, 15],
  ]);
  assert.deepEqual(rows[1].statuses.map((s) => [s.status_id, s.text, s.seconds, s.pct, s.custom, s.shade]), [
    ['away', 'Away', 360, 10, false, 0],
    ['away-training', 'Away – In training', 900, 25, true, 1],
  ]);
});

test('the chart groups agents under their team with the team totals', () => {
  const groups = chartGroups(REPORT);
  assert.deepEqual(groups.map((g) => [g.team, g.agents, g.seconds, g.members.map((m) => m.agent_id)]), [
    ['T1', 1, 3600, ['A1']], [null, 1, 3600, ['A2']],
  ]);
  assert.equal(groups[1].members[0].name, 'A2'); // no name: the id
  assert.deepEqual(groups[0].segments.map((s) => s.base), ['available', 'away', 'offline']);
});

test('an agent whose team has no totals still gets a group', () => {
  const groups = chartGroups({ agents: [ANN], teams: [] });
  assert.deepEqual(groups.map((g) => [g.team, g.members.length, g.segments.length]), [['T1', 1, 0]]);
  assert.deepEqual(chartGroups(null), []);
});

test('the legend lists the bases with time anywhere, in base order', () => {
  assert.deepEqual(legendBases(REPORT).map((l) => l.base), ['available', 'busy', 'away', 'offline']);
  assert.equal(legendBases(REPORT)[0].label, 'Available');
});

test('seconds in one base of an agent', () => {
  assert.equal(baseSeconds(ANN, 'away'), 1260);
  assert.equal(baseSeconds(BOB, 'away'), 0);
});

test('a tooltip names the status, its base when custom, the time and the share', () => {
  assert.equal(segmentText(baseSegments(ANN)[1]), 'Away · 00:21:00 · 35%');
  const training = statusSegments(ANN)[2];
  assert.equal(segmentText(training), 'Away – In training (Away) · 00:15:00 · 25%');
  assert.equal(segmentText(statusSegments(ANN)[0]), 'Available · 00:30:00 · 50%');
});

test('the tooltip anchor is the step nearest the middle of the segment', () => {
  assert.equal(tipAnchor({ x: 0, width: 50 }), 5);
  assert.equal(tipAnchor({ x: 80, width: 10 }), 17);
  assert.equal(tipAnchor({ x: 85, width: 15 }), 19); // 92.5 % rounds up
  assert.equal(tipAnchor({ x: 0, width: 0 }), 0);
  assert.equal(tipAnchor({ x: 100, width: 0 }), 20);
});

test('report requests carry the range, the team and the format', () => {
  assert.equal(reportQuery({ from: 1, to: 2 }), 'from=1&to=2');
  assert.equal(reportQuery({ from: 1, to: 2, team: 'support' }, 'csv'), 'from=1&to=2&team=support&format=csv');
});

test('the CSV file is named after the day and the team', () => {
  assert.equal(csvFileName('2026-01-01', 'support'), 'presence-2026-01-01-support.csv');
  assert.equal(csvFileName('2026-01-01', ''), 'presence-2026-01-01-all.csv');
  assert.equal(csvFileName('2026-01-01', 'a/b c'), 'presence-2026-01-01-a_b_c.csv');
});

test('a shift range runs within the day, or into the next day when it ends earlier', async () => {
  const { shiftRange, dayRange } = await import('../js/reports.js');
  const day = dayRange('2026-03-02');
  assert.deepEqual(shiftRange('2026-03-02'), day);
  const hour = 3_600_000;
  assert.deepEqual(shiftRange('2026-03-02', '09:00', '17:30'), { from: day.from + 9 * hour, to: day.from + 17.5 * hour });
  assert.deepEqual(shiftRange('2026-03-02', '22:00', '06:00'), { from: day.from + 22 * hour, to: day.to + 6 * hour });
  assert.deepEqual(shiftRange('2026-03-02', '08:00', ''), { from: day.from + 8 * hour, to: day.to });
  assert.equal(shiftRange('2026-03-02', '25:00', ''), null);
});

test('signed-in time only leaves Offline out of the total and the shares', async () => {
  const { signedInOnly, baseSegments } = await import('../js/reports.js');
  const item = { seconds: 86400, bases: [
    { base: 'available', seconds: 3600, statuses: [] }, { base: 'busy', seconds: 3600, statuses: [] },
    { base: 'offline', seconds: 79200, statuses: [] }] };
  const only = signedInOnly(item);
  assert.equal(only.seconds, 7200);
  assert.deepEqual(baseSegments(only).map((s) => [s.base, s.pct]), [['available', 50], ['busy', 50]]);
  assert.equal(item.seconds, 86400, 'the report itself is not changed');
});

test('agents sort by their share of a base, largest first, or by name', async () => {
  const { sortGroups } = await import('../js/reports.js');
  const m = (agent_id, name, avail) => ({ agent_id, name, seconds: 100, item: { bases: [{ base: 'available', seconds: avail }] } });
  const groups = [{ team: 't', members: [m('A1', 'Ada', 10), m('A2', 'Bo', 70), m('A3', 'Cy', 40)] }];
  const ids = (g) => g[0].members.map((x) => x.agent_id);
  assert.deepEqual(ids(sortGroups(groups, 'available')), ['A2', 'A3', 'A1']);
  assert.deepEqual(ids(sortGroups(groups, 'available', 'asc')), ['A1', 'A3', 'A2']);
  assert.deepEqual(ids(sortGroups(groups, '')), ['A1', 'A2', 'A3']);
});
