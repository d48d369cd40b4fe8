import assert from 'node:assert/strict';
import { test } from 'node:test';

import { describeStop, shouldReconnect } from '../js/closecodes.js';
import {
  backoffDelay, initialLink, linkClosed, linkConnecting, linkOnline, linkStopped,
} from '../js/link.js';

const opts = { baseMs: 500, capMs: 30_000 };

test('backoff grows exponentially and is capped', () => {
  const top = () => 0.999999;
  assert.equal(backoffDelay(0, opts, top), 499);
  assert.equal(backoffDelay(1, opts, top), 999);
  assert.equal(backoffDelay(3, opts, top), 3999);
  assert.equal(backoffDelay(10, opts, top), 29_999);
  assert.equal(backoffDelay(1000, opts, top), 29_999);
});

test('full jitter spreads delays over [0, ceiling)', () => {
  assert.equal(backoffDelay(4, opts, () => 0), 0);
  assert.equal(backoffDelay(4, opts, () => 0.5), 4000);
});

test('reconnect codes follow the server table (1006 included)', () => {
  for (const code of [1001, 1006, 1011, 1012, 1013, 4013, 4020, 4021]) assert.ok(shouldReconnect(code), code);
  for (const code of [1000, 4001, 4003, 4004, 4005, 4010, 4023]) assert.ok(!shouldReconnect(code), code);
});

test('a restart close schedules a retry with a growing attempt count', () => {
  let link = linkOnline(linkConnecting(initialLink()));
  assert.equal(link.phase, 'online');
  link = linkClosed(link, 1012, '', 10_000, () => 0.5);
  assert.deepEqual([link.phase, link.attempt, link.retryAt], ['reconnecting', 1, 10_250]);
  link = linkConnecting(link);
  assert.equal(link.phase, 'reconnecting');
  link = linkClosed(link, 1006, '', 20_000, () => 0.5);
  assert.deepEqual([link.attempt, link.retryAt], [2, 20_500]);
  link = linkOnline(link);
  assert.equal(link.attempt, 0);
});

test('the first connection says connecting, later ones reconnecting', () => {
  assert.equal(linkConnecting(initialLink()).phase, 'connecting');
  const after = linkConnecting(linkClosed(linkOnline(initialLink()), 1001, '', 0, () => 0));
  assert.equal(after.phase, 'reconnecting');
});

test('a sign-out close stops for good and says why', () => {
  const link = linkClosed(linkOnline(initialLink()), 4010, 'signed out', 0);
  assert.equal(link.phase, 'stopped');
  assert.equal(link.stop.title, 'Signed out');
  assert.equal(link.retryAt, null);
  assert.equal(linkClosed(link, 1012, '', 5), link, 'a stopped link stays stopped');
});

test('a state-reset close (4013) schedules a reconnect instead of stopping', () => {
  const link = linkClosed(linkOnline(linkConnecting(initialLink())), 4013,
    'state reset; reconnect', 10_000, () => 0.5);
  assert.deepEqual([link.phase, link.attempt, link.retryAt, link.stop ?? null],
    ['reconnecting', 1, 10_250, null]);
});

test('an auth failure asks for a new token', () => {
  const link = linkClosed(linkConnecting(initialLink()), 4001, 'bad token', 0);
  assert.equal(link.stop.signIn, true);
  assert.equal(describeStop(4999, 'odd').message, 'Connection closed (code 4999). odd');
});

test('stopping on purpose records the reason', () => {
  const link = linkStopped(initialLink(), { title: 'Signed out', message: 'bye' });
  assert.equal(link.phase, 'stopped');
  assert.equal(link.stop.message, 'bye');
});
