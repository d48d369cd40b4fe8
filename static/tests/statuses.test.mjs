import assert from 'node:assert/strict';
import { test } from 'node:test';

import { pickerGroups, sourceText, summarizePayload } from '../js/statuses.js';

const OOB = [
  ['available', 'Available'], ['busy', 'Busy'], ['dnd', 'Do not disturb'],
  ['away', 'Appear away'], ['offline', 'Offline'], ['inactive', 'Inactive'],
].map(([id, text]) => ({ id, text, base: id, selectable: id !== 'inactive', oob: true }));
const training = { id: 'away-training', text: 'Away – In training', base: 'away', selectable: true, oob: false };
const fake = { id: 'fake-available', text: 'Available', base: 'offline', selectable: true, oob: false };

test('the picker groups by base, OOB first, and hides Inactive', () => {
  const groups = pickerGroups([training, ...OOB, fake], { status_id: 'available' });
  assert.deepEqual(groups.map((g) => g.base), ['available', 'busy', 'dnd', 'away', 'offline']);
  const away = groups.find((g) => g.base === 'away');
  assert.deepEqual(away.items.map((i) => i.id), ['away', 'away-training']);
  assert.equal(away.items[1].custom, true);
  const offline = groups.find((g) => g.base === 'offline');
  assert.deepEqual(offline.items.map((i) => i.id), ['offline', 'fake-available']);
  assert.ok(groups[0].items[0].current);
});

test('Inactive appears while it is current, never selectable', () => {
  const groups = pickerGroups(OOB, { status_id: 'inactive', text: 'Inactive', base: 'inactive' });
  const inactive = groups.at(-1);
  assert.equal(inactive.base, 'inactive');
  assert.deepEqual(inactive.items.map((i) => [i.id, i.selectable, i.current]), [['inactive', false, true]]);
});

test('a current status outside the picker is shown, not selectable', () => {
  const groups = pickerGroups(OOB, { status_id: 'dnd-coaching', text: 'Coaching', base: 'dnd' });
  const dnd = groups.find((g) => g.base === 'dnd');
  assert.deepEqual(dnd.items.map((i) => [i.id, i.selectable, i.current]),
    [['dnd', true, false], ['dnd-coaching', false, true]]);
});

test('the source line says who set the status', () => {
  assert.equal(sourceText({ source: 'manual' }), 'Set by you');
  assert.equal(sourceText({ source: 'manual' }, 'supervisor'), 'Picked by the agent');
  assert.equal(sourceText({ source: 'auto' }, 'supervisor'), 'Automatic, from the workload');
  assert.equal(sourceText({ source: 'supervisor', actor: 'S1', reason: 'coaching' }),
    'Set by supervisor S1: coaching');
  assert.equal(sourceText({ source: 'supervisor', actor: null, reason: 'supervisor' }),
    'Set by a supervisor');
  assert.equal(sourceText({ source: 'system', reason: 'missed_offer' }),
    'Set by the system (missed an offer)');
});

test('payload summaries keep scalar fields only', () => {
  assert.deepEqual(summarizePayload({ customer_name: 'Bo', nested: { a: 1 }, n: 3, x: null }),
    [['customer name', 'Bo'], ['n', '3']]);
  assert.deepEqual(summarizePayload(null), []);
});
