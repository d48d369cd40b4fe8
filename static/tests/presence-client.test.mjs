// The embeddable client against a scripted socket (the WebSocket API, no server): what it
// sends, how it keeps state, and how requests resolve.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PresenceClient, agentSocketUrl } from '../js/presence-client.js';

class ScriptedSocket {
  static last = null;
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    ScriptedSocket.last = this;
    queueMicrotask(() => { this.readyState = 1; this.onopen?.(); });
  }
  send(data) { this.sent.push(JSON.parse(data)); }
  close() { this.readyState = 3; }
  push(msg) { this.onmessage?.({ data: JSON.stringify(msg) }); }
  drop(code) { this.readyState = 3; this.onclose?.({ code }); }
}

const P = (status_id, version) => ({ agent_id: 'A1', status_id, text: status_id, base: status_id,
  source: 'manual', reason: 'manual', since: 1, version });
const welcome = { type: 'welcome', server_time: Date.now(), agent_id: 'A1', name: 'Ada',
  connection_id: 'c1', presence: P('available', 1), statuses: [],
  heartbeat: { interval: 10, timeout: 30 }, grace_period: 150, sessions: [], offers: [] };

async function signedIn() {
  const timers = [];
  const client = new PresenceClient({ url: 'https://crm.example/app', token: 'T',
    WebSocket: ScriptedSocket, every: (ms, fn) => { timers.push(ms); return () => {}; } });
  const links = [];
  client.addEventListener('link', (e) => links.push(e.detail.phase));
  client.connect();
  await new Promise((r) => queueMicrotask(r));
  const ws = ScriptedSocket.last;
  ws.push(welcome);
  return { client, ws, links, timers };
}

test('the socket address is /ws/agent of the server, wss for https', () => {
  assert.equal(agentSocketUrl('https://h.example/app/x'), 'wss://h.example/ws/agent');
  assert.equal(agentSocketUrl('http://127.0.0.1:8000'), 'ws://127.0.0.1:8000/ws/agent');
});

test('it signs in with the token and pings at the interval the welcome announces', async () => {
  const { client, ws, links, timers } = await signedIn();
  assert.deepEqual(ws.sent[0], { type: 'auth', token: 'T' });
  assert.equal(ws.sent[1].type, 'ping');
  assert.deepEqual(timers, [10_000]);
  assert.deepEqual(links, ['connecting', 'online']);
  assert.equal(client.state.presence.status_id, 'available');
});

test('setPresence resolves with the acknowledged presence and updates the state', async () => {
  const { client, ws } = await signedIn();
  const done = client.setPresence('away');
  const frame = ws.sent.at(-1);
  assert.equal(frame.type, 'set_presence');
  assert.equal(frame.status_id, 'away');
  ws.push({ type: 'ack', ref: frame.ref, presence: P('away', 2) });
  assert.equal((await done).status_id, 'away');
  assert.equal(client.state.presence.status_id, 'away');
});

test('an offer raises an offer event once; accept resolves with the work item', async () => {
  const { client, ws } = await signedIn();
  const offers = [];
  client.addEventListener('offer', (e) => offers.push(e.detail.offerId));
  const offer = { type: 'offer', offer_id: 'o1', work_item: { id: 'w1' }, expires_at: Date.now() + 30_000 };
  ws.push(offer);
  ws.push(offer);
  assert.deepEqual(offers, ['o1']);
  const done = client.accept('o1');
  const frame = ws.sent.at(-1);
  assert.deepEqual({ ...frame, ref: 0 }, { type: 'accept', offer_id: 'o1', ref: 0 });
  ws.push({ type: 'ack', ref: frame.ref, work_item: { id: 'w1', accepted_at: 5 } });
  assert.equal((await done).id, 'w1');
  assert.deepEqual(client.state.offers, []);
});

test('an error answer rejects the request with its code', async () => {
  const { client, ws } = await signedIn();
  const done = client.setPresence('inactive');
  ws.push({ type: 'error', ref: ws.sent.at(-1).ref, code: 'status_not_selectable', message: 'no' });
  await assert.rejects(done, (e) => e.code === 'status_not_selectable');
});

test('a lost socket rejects what is in flight, records when, and refuses new requests', async () => {
  const { client, ws, links } = await signedIn();
  const inFlight = client.setPresence('away');
  ws.drop(1006);
  await assert.rejects(inFlight, /Connection lost/);
  assert.equal(links.at(-1), 'reconnecting');
  assert.equal(typeof client.lostAt, 'number');
  await assert.rejects(client.accept('o1'), /Waiting for connection/);
  client.stop();
});

test('a sign-out close (4010) stops without reconnecting', async () => {
  const { client, ws, links } = await signedIn();
  ws.drop(4010);
  assert.equal(links.at(-1), 'stopped');
  assert.equal(client.link.stop.code, 4010);
});

test('a state-reset close (4013) reconnects and signs in again with the token', async () => {
  const { client, ws, links } = await signedIn();
  ws.drop(4013);
  assert.equal(links.at(-1), 'reconnecting');
  assert.equal(client.link.stop ?? null, null);
  client.retryNow();
  await new Promise((r) => queueMicrotask(r));
  const again = ScriptedSocket.last;
  assert.notEqual(again, ws, 'a new socket was opened');
  assert.deepEqual(again.sent[0], { type: 'auth', token: 'T' });
  again.push({ ...welcome, connection_id: 'c2', presence: P('offline', 1) });
  assert.equal(links.at(-1), 'online');
  assert.equal(client.state.presence.status_id, 'offline');
  client.stop();
});
