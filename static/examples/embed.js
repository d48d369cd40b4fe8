// A host application embedding agent presence with the client module alone: sign in,
// show and change presence, receive offers and accept them. No code from the pages.
// Open /static/examples/embed.html#token=<agent token> on a presence server.
import { PresenceClient } from '/static/js/presence-client.js';

const token = new URLSearchParams(location.hash.slice(1)).get('token');
const client = new PresenceClient({ url: location.href, token });
const $ = (id) => document.getElementById(id);

client.addEventListener('link', (e) => {
  $('link').textContent = `(${e.detail.phase})`;
  document.body.dataset.link = e.detail.phase;
});

client.addEventListener('change', ({ detail: { state } }) => {
  const p = state.presence;
  if (p) {
    $('presence').textContent = p.text;
    $('presence').dataset.statusId = p.status_id;
  }
  const select = $('status');
  if (select.options.length !== state.statuses.length) {
    select.replaceChildren(...state.statuses.filter((s) => s.selectable)
      .map((s) => new Option(s.text, s.id)));
  }
  if (p) select.value = p.status_id;
  $('offers').replaceChildren(...state.offers.map((o) => {
    const li = document.createElement('li');
    li.dataset.offerId = o.offerId;
    const accept = document.createElement('button');
    accept.textContent = 'Accept';
    accept.addEventListener('click', () => client.accept(o.offerId).catch((err) => alert(err.message)));
    li.append(`${o.workItem.workstream_name}: ${o.workItem.payload?.customer ?? ''} `, accept);
    return li;
  }));
  $('sessions').replaceChildren(...state.sessions.map((s) => {
    const li = document.createElement('li');
    li.dataset.workItemId = s.workItemId;
    li.textContent = `${s.workstream}: ${s.payload.customer ?? s.workItemId}`;
    return li;
  }));
});

$('status').addEventListener('change', (e) => {
  client.setPresence(e.target.value).catch((err) => alert(err.message));
});

client.connect();
