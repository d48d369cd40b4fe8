// The supervisor's model of every watched agent: a snapshot, then diffs. An event is
// applied only when it is newer, by (epoch, version), than the view held for that agent;
// the cursor always advances. Pure (no DOM, no I/O); mutates only its own maps.
import { advanceCursor, formatCursor, parseCursor } from './cursor.js';
import { isNewer } from './stamp.js';

/**
 * The supervisor's model: every watched agent's view and the cursor (changed only by
 * its methods).
 */
export class Roster {
  constructor() {
    /** agent id → agent view */
    this.agents = new Map();
    /** shard → last stream id seen */
    this.heads = new Map();
    this.hasSnapshot = false;
  }

  /** Forget everything (a new sign-in starts from a snapshot). */
  clear() {
    this.agents = new Map();
    this.heads = new Map();
    this.hasSnapshot = false;
  }

  /** Replace everything with a snapshot; → {added, updated, removed} agent id lists. */
  applySnapshot(msg) {
    const added = [];
    const updated = [];
    const seen = new Set();
    for (const agent of msg.agents ?? []) {
      seen.add(agent.agent_id);
      const held = this.agents.get(agent.agent_id);
      this.agents.set(agent.agent_id, agent);
      if (!held) added.push(agent.agent_id);
      else if (isNewer(agent, held) || isNewer(held, agent)) updated.push(agent.agent_id);
    }
    const removed = [...this.agents.keys()].filter((id) => !seen.has(id));
    for (const id of removed) this.agents.delete(id);
    this.heads = parseCursor(msg.cursor);
    this.hasSnapshot = true;
    return { added, updated, removed };
  }

  /** Apply a `presence` or `agent` event; → {id, before, after} when applied, else null. */
  applyEvent(msg) {
    advanceCursor(this.heads, msg.cursor);
    const after = msg.agent;
    if (!after?.agent_id) return null;
    const before = this.agents.get(after.agent_id) ?? null;
    if (before && !isNewer(after, before)) return null;
    this.agents.set(after.agent_id, after);
    return { id: after.agent_id, before, after };
  }

  /**
   * Apply an `events` frame (several events, each applied as `applyEvent` would;
   * decision 59) or a single `presence`/`agent` event; → the changes applied, in order.
   * @param {{type: string, events?: object[]}} msg
   * @returns {{id: string, before: object | null, after: object}[]}
   */
  applyEvents(msg) {
    const changes = [];
    for (const event of msg.type === 'events' ? msg.events ?? [] : [msg]) {
      const change = this.applyEvent(event);
      if (change) changes.push(change);
    }
    return changes;
  }

  /** The cursor to send when reconnecting, or null before the first snapshot. */
  cursor() {
    return this.hasSnapshot ? formatCursor(this.heads) : null;
  }

  /** Teams present among the agents, sorted. */
  teams() {
    const teams = new Set();
    for (const a of this.agents.values()) if (a.team) teams.add(a.team);
    return [...teams].sort();
  }
}
