import assert from 'node:assert/strict';
import { test } from 'node:test';

import { clockOffset, formatDuration, secondsLeft, startOfDay } from '../js/time.js';

test('durations read as m:ss, h:mm:ss, then days', () => {
  assert.equal(formatDuration(0), '0:00');
  assert.equal(formatDuration(-5000), '0:00');
  assert.equal(formatDuration(7_999), '0:07');
  assert.equal(formatDuration(725_000), '12:05');
  assert.equal(formatDuration(3_723_000), '1:02:03');
  assert.equal(formatDuration((3 * 86400 + 4 * 3600 + 5) * 1000), '3d 4h');
});

test('the clock offset is measured at the middle of the round trip', () => {
  assert.equal(clockOffset(1000, 1100, 5050), 4000);
  assert.equal(clockOffset(1000, 1000, 900), -100);
});

test('countdowns round up and stop at zero', () => {
  assert.equal(secondsLeft(10_500, 10_000), 1);
  assert.equal(secondsLeft(10_000, 10_000), 0);
  assert.equal(secondsLeft(9_000, 10_000), 0);
});

test('start of day is local midnight', () => {
  const noon = new Date(2026, 0, 2, 12, 30).getTime();
  assert.equal(startOfDay(noon), new Date(2026, 0, 2).getTime());
});
