import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  announcement, dismissNotice, initialAgentState, offerExpired, pendingStatus, reduce, request,
} from '../js/agent-state.js';

const P = (status_id, version, extra = {}) => ({
  agent_id: 'A1', status_id, text: status_id, base: status_id, source: 'manual',
  reason: 'manual', since: 1000, version, actor: null, ...extra,
});

const welcome = (extra = {}) => ({
  type: 'welcome', agent_id: 'A1', name: 'Ada', connection_id: 'c1',
  presence: P('available', 3), statuses: [], heartbeat: { interval: 10, timeout: 30 },
  grace_period: 150, ...extra,
});

test('the welcome sets identity and presence', () => {
  const s = reduce(initialAgentState(), welcome());
  assert.equal(s.name, 'Ada');
  assert.equal(s.presence.status_id, 'available');
  assert.deepEqual(s.heartbeat, { interval: 10, timeout: 30 });
});

test('a presence event applies only when its version is newer', () => {
  let s = reduce(initialAgentState(), welcome());
  s = reduce(s, { type: 'presence', presence: P('away', 5) });
  assert.equal(s.presence.status_id, 'away');
  const same = reduce(s, { type: 'presence', presence: P('busy', 5) });
  assert.equal(same, s);
  const older = reduce(s, { type: 'presence', presence: P('busy', 4) });
  assert.equal(older.presence.status_id, 'away');
});

test('an ack settles the pending request and carries the presence', () => {
  let s = reduce(initialAgentState(), welcome());
  s = request(s, 'r1', { kind: 'presence', statusId: 'away' });
  assert.equal(pendingStatus(s), 'away');
  s = reduce(s, { type: 'ack', ref: 'r1', presence: P('away', 4) });
  assert.equal(pendingStatus(s), null);
  assert.equal(s.presence.status_id, 'away');
});

test('an error for a request shows its message and clears it', () => {
  let s = reduce(initialAgentState(), welcome());
  s = request(s, 'r1', { kind: 'presence', statusId: 'x' });
  s = reduce(s, { type: 'error', ref: 'r1', code: 'unknown_status', message: "no status 'x'" });
  assert.equal(pendingStatus(s), null);
  assert.deepEqual(s.notice, { level: 'error', text: "no status 'x'" });
});

test('offers are keyed by id and leave on offer_closed', () => {
  let s = reduce(initialAgentState(), welcome());
  const offer = { type: 'offer', offer_id: 'o1', work_item: { id: 'w1' }, expires_at: 5000 };
  s = reduce(s, offer, 1000);
  s = reduce(s, offer, 1000);
  assert.equal(s.offers.length, 1);
  assert.equal(s.offers[0].receivedAt, 1000);
  s = reduce(s, { type: 'offer_closed', offer_id: 'o1', outcome: 'missed' });
  assert.equal(s.offers.length, 0);
  assert.equal(s.notice.level, 'warn');
});

test('a rejected accept returns the offer to its buttons with the error', () => {
  let s = reduce(initialAgentState(), welcome());
  s = reduce(s, { type: 'offer', offer_id: 'o1', work_item: {}, expires_at: 5000 });
  s = request(s, 'r2', { kind: 'accept', offerId: 'o1' });
  assert.equal(s.offers[0].pending, 'accept');
  s = reduce(s, { type: 'error', ref: 'r2', code: 'not_found', message: 'offer gone' });
  assert.equal(s.offers[0].pending, null);
  assert.equal(s.offers[0].error, 'offer gone');
});

test('an acked accept removes the card', () => {
  let s = reduce(initialAgentState(), welcome());
  s = reduce(s, { type: 'offer', offer_id: 'o1', work_item: {}, expires_at: 5000 });
  s = request(s, 'r2', { kind: 'accept', offerId: 'o1' });
  s = reduce(s, { type: 'ack', ref: 'r2' });
  assert.equal(s.offers.length, 0);
  assert.equal(s.notice.text, 'Offer accepted.');
});

test('an expired offer stays until the server closes it as missed', () => {
  let s = reduce(initialAgentState(), welcome());
  s = reduce(s, { type: 'offer', offer_id: 'o1', work_item: {}, expires_at: 5000 });
  assert.equal(offerExpired(s.offers[0], 4999), false);
  assert.equal(offerExpired(s.offers[0], 5000), true);
  assert.equal(s.offers.length, 1);
  s = reduce(s, { type: 'offer_closed', offer_id: 'o1', outcome: 'missed' }, 6000);
  assert.deepEqual(s.offers, []);
  assert.deepEqual(s.notice, { level: 'warn', text: 'Offer missed: it timed out.' });
});

test('sessions come from the welcome and from sessions pushes', () => {
  const session = { work_item_id: 'w1', workstream: 'chat', channel: 'chat', payload: {}, accepted_at: 1 };
  let s = reduce(initialAgentState(), welcome({ sessions: [session] }));
  assert.equal(s.sessions[0].workItemId, 'w1');
  s = request(s, 'r3', { kind: 'close_work', workItemId: 'w1' });
  assert.equal(s.sessions[0].closing, true);
  s = reduce(s, { type: 'sessions', sessions: [] });
  assert.deepEqual(s.sessions, []);
});

test('a reconnect welcome keeps live offers and forgets stale requests', () => {
  let s = reduce(initialAgentState(), welcome());
  s = reduce(s, { type: 'offer', offer_id: 'o1', work_item: {}, expires_at: 5000 }, 0);
  s = request(s, 'r', { kind: 'presence', statusId: 'away' });
  s = reduce(s, welcome(), 1000);
  assert.equal(s.offers.length, 1);
  assert.deepEqual(s.pending, {});
  s = reduce(s, welcome({ offers: [] }), 1000);
  assert.equal(s.offers.length, 0);
});

test('announcements name who changed the status', () => {
  assert.equal(announcement(P('available', 1), P('busy', 2, { text: 'Busy', source: 'supervisor', actor: 'S1' })),
    'Status is now Busy by S1.');
  assert.equal(announcement(P('busy', 1), P('busy', 2)), '');
  assert.equal(announcement(null, P('away', 2, { text: 'Appear away' })), 'Status is now Appear away.');
});

test('an offer without a deadline never expires on the client', () => {
  let s = reduce(initialAgentState(), welcome());
  s = reduce(s, { type: 'offer', offer_id: 'o1', work_item: {}, expires_at: null }, 0);
  assert.equal(offerExpired(s.offers[0], 10 ** 13), false);
  assert.equal(reduce(s, welcome(), 10 ** 13).offers.length, 1);
});

test('the welcome of a reconnect brings the pending offers and sessions', () => {
  const s = reduce(initialAgentState(), welcome({
    offers: [{ type: 'offer', offer_id: 'o9', work_item: { id: 'w9' }, expires_at: 9000 }],
    sessions: [{ id: 'w1', work_item_id: 'w1', workstream: 'chat', channel: 'chat', payload: {}, accepted_at: 5 }],
  }), 1000);
  assert.deepEqual(s.offers.map((o) => [o.offerId, o.expiresAt, o.receivedAt]), [['o9', 9000, 1000]]);
  assert.equal(s.sessions[0].acceptedAt, 5);
});

test('a presence of a later epoch applies even with a lower version', () => {
  let s = reduce(initialAgentState(), welcome()); // available, epoch 0, version 3
  s = reduce(s, { type: 'presence', presence: P('dnd', 7) }); // later lost by Redis
  s = reduce(s, { type: 'presence', presence: P('away', 6, { epoch: 1700000000000 }) });
  assert.equal(s.presence.status_id, 'away', 'the corrective presence is shown');
  const stale = reduce(s, { type: 'presence', presence: P('dnd', 9) });
  assert.equal(stale.presence.status_id, 'away', 'an earlier epoch never wins back');
});

test("the agent's next change and its ack after a repair are shown", () => {
  let s = reduce(initialAgentState(), welcome());
  s = reduce(s, { type: 'presence', presence: P('dnd', 7) });
  s = reduce(s, { type: 'presence', presence: P('away', 6, { epoch: 1700000000000 }) });
  s = request(s, 'r1', { kind: 'presence', statusId: 'busy' });
  s = reduce(s, { type: 'ack', ref: 'r1', presence: P('busy', 7, { epoch: 1700000000000 }) });
  assert.equal(s.presence.status_id, 'busy');
  assert.equal(pendingStatus(s), null);
});

test('a faded notice is cleared, a newer notice is kept', () => {
  let s = reduce(initialAgentState(), welcome());
  s = reduce(s, { type: 'offer', offer_id: 'o1', expires_at: null });
  s = reduce(s, { type: 'offer_closed', offer_id: 'o1', outcome: 'missed' });
  const shown = s.notice;
  assert.equal(shown.level, 'warn');
  const cleared = dismissNotice(s, shown);
  assert.equal(cleared.notice, null);
  assert.equal(s.notice, shown, 'the state passed in is not changed');
  const replaced = reduce(s, { type: 'error', code: 'x', message: 'newer' });
  assert.equal(dismissNotice(replaced, shown), replaced);
});
