// The socket life cycle shared by the agent client and the supervisor page: the readiness
// probe while a reconnect waits, the server going silent, the readiness address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SocketLink, readinessUrl } from '../js/socket-link.js';
import { PresenceClient } from '../js/presence-client.js';

class ScriptedSocket {
  static opened = [];
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    ScriptedSocket.opened.push(this);
    queueMicrotask(() => { this.readyState = 1; this.onopen?.(); });
  }
  send(data) { this.sent.push(JSON.parse(data)); }
  close() { this.readyState = 3; }
  push(msg) { this.onmessage?.({ data: JSON.stringify(msg) }); }
  drop(code) { this.readyState = 3; this.onclose?.({ code }); }
}

const tick = () => new Promise((r) => queueMicrotask(r));

test('the readiness address is /readyz of the socket\'s server', () => {
  assert.equal(readinessUrl('wss://h.example/ws/agent'), 'https://h.example/readyz');
  assert.equal(readinessUrl('ws://127.0.0.1:8000/ws/supervisor?batch=1'),
    'http://127.0.0.1:8000/readyz');
});

test('the agent client reconnects at once when the readiness probe answers ready', async () => {
  const asked = [];
  let ready = false;
  const client = new PresenceClient({ url: 'http://h.example', token: 'T',
    WebSocket: ScriptedSocket, every: () => () => {},
    fetch: async (url) => { asked.push(url); return { ok: ready }; } });
  client.connect();
  await tick();
  const first = ScriptedSocket.opened.at(-1);
  first.drop(1012);
  assert.equal(client.link.phase, 'reconnecting');
  await client.conn.probe(); // not ready yet: still waiting, no new socket
  assert.equal(ScriptedSocket.opened.at(-1), first);
  ready = true;
  await client.conn.probe();
  assert.notEqual(ScriptedSocket.opened.at(-1), first, 'a new socket was opened');
  assert.equal(client.conn.ws, ScriptedSocket.opened.at(-1));
  assert.deepEqual(asked, ['http://h.example/readyz', 'http://h.example/readyz']);
  client.stop();
});

test('a server silent for longer than the heartbeat timeout is treated as lost', async () => {
  const beats = [];
  const links = [];
  const link = new SocketLink({ url: 'ws://h.example/ws/supervisor', fetch: null,
    hello: () => ({ type: 'auth', token: 'T' }), onMessage: () => {},
    onLink: (l) => links.push(l.phase), every: (ms, fn) => { beats.push(fn); return () => {}; },
    WebSocket: ScriptedSocket });
  link.restart();
  await tick();
  link.online({ interval: 1, timeout: 3 });
  link.lastHeardAt = Date.now() - 4000; // nothing heard for 4 s
  beats[0]();
  assert.equal(link.link.phase, 'reconnecting');
  assert.equal(link.probeTimer, null, 'no probe without fetch');
  assert.deepEqual(links.slice(0, 2), ['connecting', 'online']);
  link.stop();
});
