// Supervisor actions on one agent (force a status, sign out) through one shared dialog.
// The result comes back as an ack or error carrying the request's ref.
import { BASE_LABELS, BASES } from '../js/statuses.js';
import { $, h, setData, setText } from './dom.js';

/**
 * The supervisor's actions on one agent (force a status, sign out) and their answers.
 */
export class Actions {
  /**
   * `deps`: send a frame, the next ref, an agent's view, the status catalog.
   * @param {HTMLDialogElement} dialog
   * @param {{send: (msg: object) => boolean, ref: () => number, agent: (id: string) => object | undefined, statuses: () => object[]}} deps
   */
  constructor(dialog, { send, ref, agent, statuses }) {
    this.dialog = dialog;
    this.deps = { send, ref, agent, statuses };
    this.pending = new Map(); // ref → {kind, agentId, name, statusText}
    this.current = null; // {kind, agentId, opener}
    this.form = $('#action-form');
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    $('#action-cancel').addEventListener('click', () => this.close());
    dialog.addEventListener('close', () => {
      this.current?.opener?.focus();
      this.current = null;
    });
  }

  /** Open the dialog for `kind` ('force' | 'sign-out') on agent `agentId`. */
  open(kind, agentId, opener) {
    const agent = this.deps.agent(agentId);
    if (!agent) return;
    this.current = { kind, agentId, opener };
    const name = agent.name || agent.agent_id;
    setData(this.dialog, 'kind', kind);
    setData(this.dialog, 'agentId', agentId);
    setText($('#action-h'), kind === 'force' ? `Set status of ${name}` : `Sign out ${name}`);
    setText($('#action-who'), `Now: ${agent.text} (${BASE_LABELS[agent.base]}) · ${agent.connections} tab(s) open`);
    $('#action-status-field').hidden = kind !== 'force';
    $('#action-submit').textContent = kind === 'force' ? 'Set status' : 'Sign out';
    $('#action-submit').className = kind === 'force' ? 'btn btn-primary' : 'btn btn-danger';
    $('#action-reason').value = '';
    this.error('');
    if (kind === 'force') this.fillStatuses();
    $('#action-status').required = kind === 'force';
    this.busy(false);
    this.dialog.showModal();
    (kind === 'force' ? $('#action-status') : $('#action-reason')).focus();
  }

  /** Statuses grouped by what they count as; nothing is pre-selected, so Enter cannot
   *  apply a status nobody chose. A custom status names its base in its own text, so an
   *  Offline-based "Available" never reads as Available. */
  fillStatuses() {
    const select = $('#action-status');
    const usable = this.deps.statuses().filter((s) => s.base !== 'inactive' && s.selectable !== false);
    const list = usable.length ? usable : BASES.filter((b) => b !== 'inactive')
      .map((b) => ({ id: b, text: BASE_LABELS[b], base: b, oob: true }));
    const option = (s) => h('option', {
      value: s.id, dataset: { base: s.base },
      text: s.oob || s.id === s.base ? s.text : `${s.text} (counts as ${BASE_LABELS[s.base]})`,
    });
    select.replaceChildren(h('option', { value: '', text: 'Choose a status…', disabled: true, selected: true }),
      ...BASES.filter((b) => b !== 'inactive').map((base) => h('optgroup', { label: `Counts as ${BASE_LABELS[base]}` },
        list.filter((s) => s.base === base).map(option))));
    select.value = '';
  }

  submit() {
    const cur = this.current;
    if (!cur) return;
    const agent = this.deps.agent(cur.agentId);
    const note = $('#action-reason').value.trim();
    const ref = this.deps.ref();
    const statusId = $('#action-status').value;
    if (cur.kind === 'force' && !statusId) {
      this.error('Choose a status first.');
      $('#action-status').focus();
      return;
    }
    const msg = cur.kind === 'force'
      ? { type: 'force_presence', agent_id: cur.agentId, status_id: statusId, note, ref }
      : { type: 'sign_out_agent', agent_id: cur.agentId, note, ref };
    if (!this.deps.send(msg)) {
      this.error('Not connected to the server; try again when the connection is back.');
      return;
    }
    const status = this.deps.statuses().find((s) => s.id === statusId);
    this.pending.set(ref, {
      kind: cur.kind, agentId: cur.agentId, name: agent?.name || cur.agentId,
      statusText: status?.text ?? statusId,
    });
    this.busy(true);
  }

  /** An ack or error arrived; `toast(text, level)` shows the outcome. */
  settle(msg, toast) {
    const req = this.pending.get(msg.ref);
    if (!req) {
      if (msg.type === 'error') toast(msg.message ?? 'The server refused a request.', 'error');
      return;
    }
    this.pending.delete(msg.ref);
    const mine = this.current && this.current.agentId === req.agentId;
    if (msg.type === 'error') {
      if (mine && this.dialog.open) {
        this.busy(false);
        this.error(msg.message ?? msg.code);
      } else {
        toast(`${req.name}: ${msg.message ?? msg.code}`, 'error');
      }
      return;
    }
    if (mine && this.dialog.open) this.close();
    toast(req.kind === 'force' ? `${req.name} is now ${msg.presence?.text ?? req.statusText}.`
      : `${req.name} was signed out.`, 'info');
  }

  busy(on) {
    for (const el of this.form.querySelectorAll('button, select, input')) {
      if (el.id !== 'action-cancel') el.disabled = on;
    }
  }

  error(text) {
    const el = $('#action-error');
    el.hidden = !text;
    setText(el, text);
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }
}
