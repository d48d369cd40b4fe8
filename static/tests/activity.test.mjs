import { test } from 'node:test';
import assert from 'node:assert/strict';
import { activityDue, nextStatusText } from '../js/activity.js';

test('the first input is reported, then at most once per interval', () => {
  assert.equal(activityDue(null, 1000, 10), true);
  assert.equal(activityDue(1000, 10999, 10), false);
  assert.equal(activityDue(1000, 11000, 10), true);
});

test('without an interval only the first input is reported', () => {
  assert.equal(activityDue(null, 5, undefined), true);
  assert.equal(activityDue(5, 100000, undefined), false);
});

test('the next status is named by its picker text, or its id when unknown', () => {
  const statuses = [{ id: 'lunch', text: 'Lunch' }];
  assert.equal(nextStatusText({ next_status_id: 'lunch' }, statuses), 'Lunch');
  assert.equal(nextStatusText({ next_status_id: 'gone' }, statuses), 'gone');
  assert.equal(nextStatusText({ next_status_id: null }, statuses), '');
  assert.equal(nextStatusText(null, statuses), '');
});
