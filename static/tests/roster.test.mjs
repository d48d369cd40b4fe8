import assert from 'node:assert/strict';
import { test } from 'node:test';

import { advanceCursor, compareStreamIds, formatCursor, parseCursor } from '../js/cursor.js';
import { Roster } from '../js/roster.js';

const view = (agent_id, version, extra = {}) => ({
  agent_id, version, status_id: 'available', text: 'Available', base: 'available',
  source: 'auto', reason: 'sign_in', since: 0, actor: null, name: agent_id, team: 't1',
  connections: 1, signed_in: true, grace_until: null, capacity: null, ...extra,
});

test('stream ids compare by ms then sequence, numerically', () => {
  assert.equal(compareStreamIds('10-0', '9-5'), 1);
  assert.equal(compareStreamIds('10-2', '10-10'), -1);
  assert.equal(compareStreamIds('1700000000000-1', '1700000000000-1'), 0);
});

test('a cursor parses, advances per shard and formats back', () => {
  const heads = parseCursor('1:5-0,0:1-0,bogus');
  assert.deepEqual([...heads], [[1, '5-0'], [0, '1-0']]);
  assert.equal(advanceCursor(heads, '0:2-0'), true);
  assert.equal(advanceCursor(heads, '1:4-9'), false, 'older ids never move a head back');
  assert.equal(advanceCursor(heads, 'nonsense'), false);
  assert.equal(formatCursor(heads), '0:2-0,1:5-0');
  assert.equal(formatCursor(new Map()), null);
});

test('the snapshot fills the roster and sets the cursor', () => {
  const r = new Roster();
  assert.equal(r.cursor(), null);
  const diff = r.applySnapshot({ agents: [view('A1', 1), view('A2', 1)], cursor: '0:0-0,1:3-0' });
  assert.deepEqual(diff.added, ['A1', 'A2']);
  assert.equal(r.cursor(), '0:0-0,1:3-0');
});

test('events newer than the held version apply; older ones only move the cursor', () => {
  const r = new Roster();
  r.applySnapshot({ agents: [view('A1', 4)], cursor: '0:0-0,1:0-0' });
  assert.equal(r.applyEvent({ type: 'presence', agent: view('A1', 4), cursor: '0:5-0' }), null);
  assert.equal(r.cursor(), '0:5-0,1:0-0');
  const change = r.applyEvent({ type: 'presence', agent: view('A1', 5, { base: 'away' }), cursor: '0:6-0' });
  assert.equal(change.before.version, 4);
  assert.equal(change.after.base, 'away');
  assert.equal(r.applyEvent({ type: 'agent', agent: view('A1', 3), cursor: '0:7-0' }), null);
  assert.equal(r.agents.get('A1').version, 5);
});

test('an event for an unknown agent adds it', () => {
  const r = new Roster();
  r.applySnapshot({ agents: [], cursor: '0:0-0' });
  const change = r.applyEvent({ type: 'agent', agent: view('A9', 1), cursor: '0:1-0' });
  assert.equal(change.before, null);
  assert.equal(r.agents.size, 1);
});

test('a resync snapshot replaces the roster and reports removed agents', () => {
  const r = new Roster();
  r.applySnapshot({ agents: [view('A1', 1), view('A2', 1)], cursor: '0:1-0' });
  const diff = r.applySnapshot({ agents: [view('A2', 7), view('A3', 1)], cursor: '0:9-0', resync: true });
  assert.deepEqual(diff, { added: ['A3'], updated: ['A2'], removed: ['A1'] });
  assert.deepEqual([...r.agents.keys()].sort(), ['A2', 'A3']);
  assert.equal(r.cursor(), '0:9-0');
});

test('replaying missed events after a resume is idempotent', () => {
  const r = new Roster();
  r.applySnapshot({ agents: [view('A1', 1)], cursor: '0:1-0' });
  const events = [2, 3, 4].map((v) => ({ type: 'presence', agent: view('A1', v), cursor: `0:${v}-0` }));
  for (const e of events) r.applyEvent(e);
  for (const e of events) assert.equal(r.applyEvent(e), null);
  assert.equal(r.agents.get('A1').version, 4);
  assert.equal(r.cursor(), '0:4-0');
});

test('teams lists each team once', () => {
  const r = new Roster();
  r.applySnapshot({ agents: [view('A1', 1, { team: 'b' }), view('A2', 1, { team: 'a' }),
    view('A3', 1, { team: 'b' }), view('A4', 1, { team: null })], cursor: '' });
  assert.deepEqual(r.teams(), ['a', 'b']);
});

test('clearing forgets agents and the cursor', () => {
  const r = new Roster();
  r.applySnapshot({ agents: [view('A1', 1)], cursor: '0:1-0' });
  r.clear();
  assert.equal(r.agents.size, 0);
  assert.equal(r.cursor(), null);
});

test('an event of a later epoch applies even with a lower version', () => {
  const r = new Roster();
  r.applySnapshot({ agents: [view('A1', 7, { status_id: 'dnd' })], cursor: '0:0-0,1:0-0' });
  const repair = view('A1', 6, { status_id: 'away', epoch: 1700000000000 });
  const change = r.applyEvent({ type: 'agent', agent: repair, cursor: '1:9-0' });
  assert.equal(change?.after.status_id, 'away');
  assert.equal(r.agents.get('A1').status_id, 'away');
  assert.equal(r.applyEvent({ type: 'presence', agent: view('A1', 8), cursor: '1:10-0' }), null,
    'an earlier epoch never wins back');
  const next = view('A1', 7, { status_id: 'busy', epoch: 1700000000000 });
  assert.equal(r.applyEvent({ type: 'presence', agent: next, cursor: '1:11-0' })?.after.status_id, 'busy');
});

test('a snapshot reports an agent whose epoch changed as updated', () => {
  const r = new Roster();
  r.applySnapshot({ agents: [view('A1', 5)], cursor: '0:0-0,1:0-0' });
  const diff = r.applySnapshot({ agents: [view('A1', 5, { epoch: 1700000000000 })], cursor: '0:0-0,1:0-0' });
  assert.deepEqual(diff.updated, ['A1']);
});

test('an events frame applies each of its events in order and moves the cursor past all', () => {
  const r = new Roster();
  r.applySnapshot({ agents: [view('A1', 4)], cursor: '0:0-0,1:0-0' });
  const changes = r.applyEvents({
    type: 'events',
    events: [
      { type: 'presence', agent: view('A1', 5, { base: 'away' }), cursor: '0:6-0' },
      { type: 'agent', agent: view('A1', 4), cursor: '0:7-0' }, // stale: only the cursor
      { type: 'presence', agent: view('A2', 1), cursor: '1:3-0' },
      { type: 'presence', agent: view('A1', 6, { base: 'busy' }), cursor: '0:8-0' },
    ],
  });
  assert.deepEqual(changes.map((c) => [c.id, c.after.version]), [['A1', 5], ['A2', 1], ['A1', 6]]);
  assert.equal(changes[2].before.version, 5, 'the second change of A1 starts from the first');
  assert.equal(r.agents.get('A1').base, 'busy');
  assert.equal(r.cursor(), '0:8-0,1:3-0');
});

test('a single event goes through applyEvents as through applyEvent', () => {
  const r = new Roster();
  r.applySnapshot({ agents: [view('A1', 1)], cursor: '0:0-0' });
  const changes = r.applyEvents({ type: 'presence', agent: view('A1', 2), cursor: '0:1-0' });
  assert.deepEqual(changes.map((c) => c.id), ['A1']);
  assert.deepEqual(r.applyEvents({ type: 'events', events: [] }), []);
  assert.equal(r.cursor(), '0:1-0');
});
