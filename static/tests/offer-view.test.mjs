import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initialAgentState, reduce } from '../js/agent-state.js';
import {
  actionableOffer, headline, offerAnnouncement, pageTitle, shortcutAction, signedOutText, standing,
} from '../js/offer-view.js';

const item = { id: 'w1', workstream: 'chat', workstream_name: 'Web chat', channel: 'chat',
  payload: { customer: 'Jo', subject: 'Refund', order: 7 }, headline_fields: ['customer', 'subject'] };
const withOffer = (expires = 31_000) => reduce(
  { ...initialAgentState(), name: 'Ada' },
  { type: 'offer', offer_id: 'o1', work_item: item, expires_at: expires }, 1000);
const P = { status_id: 'available', text: 'Available', base: 'available', source: 'auto',
  since: 0, version: 1 };

test('the headline is the workstream name and the configured payload fields present', () => {
  assert.deepEqual(headline(item), { title: 'Web chat', subtitle: 'Jo · Refund', fields: ['customer', 'subject'] });
  assert.equal(headline({ ...item, headline_fields: ['order', 'missing'] }).subtitle, '7');
  assert.equal(headline({ workstream: 'chat', payload: { customer: 'Jo' } }).title, 'chat');
  assert.equal(headline({ payload: { customer: ' ' } }).subtitle, '');
});

test('the title shows seconds left and the workstream only while an offer waits', () => {
  assert.equal(pageTitle({ ...initialAgentState(), name: 'Ada' }, 0), 'Ada · Presence');
  assert.equal(pageTitle(withOffer(), 11_000), '(20 s) Offer: Web chat · Ada · Presence');
  assert.equal(pageTitle(withOffer(), 31_000), 'Offer ended: Web chat · Ada · Presence');
});

test('the announcement names channel, customer, time left and the shortcuts', () => {
  const s = withOffer();
  assert.equal(offerAnnouncement(s.offers[0], 1000),
    'New chat offer: Web chat from Jo · Refund. 30 seconds to answer. Alt+A accepts, Alt+R rejects.');
});

test('Alt+A and Alt+R are the shortcuts, with no other modifier', () => {
  const key = (code, mods = {}) => ({ code, altKey: true, ctrlKey: false, metaKey: false, shiftKey: false, ...mods });
  assert.equal(shortcutAction(key('KeyA')), 'accept');
  assert.equal(shortcutAction(key('KeyR')), 'reject');
  assert.equal(shortcutAction(key('KeyA', { altKey: false })), null);
  assert.equal(shortcutAction(key('KeyA', { ctrlKey: true })), null);
  assert.equal(shortcutAction(key('KeyX')), null);
});

test('shortcuts act on an open offer, not an expired one', () => {
  const s = withOffer();
  assert.equal(actionableOffer(s, 30_999).offerId, 'o1');
  assert.equal(actionableOffer(s, 31_000), null);
});

test('while disconnected the standing counts down the grace period, then says signed out', () => {
  const s = { presence: P, gracePeriod: 150 };
  const grace = standing(s, 10_000, 40_000);
  assert.equal(grace.kind, 'grace');
  assert.equal(grace.until, 160_000);
  assert.match(grace.text, /Offline\. Back within 2:00 and Available is restored/);
  assert.equal(standing(s, 10_000, 160_000).kind, 'signed-out');
  assert.equal(standing({ presence: P, gracePeriod: null }, 10_000, 0).kind, 'unknown');
});

test('a supervisor sign-out names the supervisor and the note', () => {
  const out = { ...P, base: 'offline', reason: 'supervisor', source: 'system' };
  assert.equal(signedOutText({ ...out, actor: 'Sam', note: 'Shift over' }), 'Signed out by Sam: “Shift over”');
  assert.equal(signedOutText({ ...out, actor: null, note: null }), 'Signed out by a supervisor.');
  assert.equal(signedOutText({ ...out, reason: 'signed_out' }), 'You signed out (on this or another tab).');
});
