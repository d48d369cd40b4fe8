// Counts per base and per custom status, kept incrementally. Pure.
import { BASES, isCustom } from './statuses.js';

/**
 * Counts per base and per custom status of the agents on the supervisor's page.
 */
export class Counts {
  constructor() {
    this.total = 0;
    /** base → n */
    this.byBase = new Map(BASES.map((b) => [b, 0]));
    /** custom status id → {text, base, n} */
    this.byCustom = new Map();
  }

  static of(agents) {
    const counts = new Counts();
    for (const a of agents) counts.add(a);
    return counts;
  }

  add(agent, sign = 1) {
    if (!agent) return;
    this.total += sign;
    this.byBase.set(agent.base, (this.byBase.get(agent.base) ?? 0) + sign);
    if (isCustom(agent.status_id)) {
      const entry = this.byCustom.get(agent.status_id)
        ?? { text: agent.text, base: agent.base, n: 0 };
      entry.n += sign;
      entry.text = agent.text;
      if (entry.n > 0) this.byCustom.set(agent.status_id, entry);
      else this.byCustom.delete(agent.status_id);
    }
  }

  remove(agent) {
    this.add(agent, -1);
  }

  /** Replace `before` by `after` (either may be null). */
  change(before, after) {
    this.remove(before);
    this.add(after);
  }

  /** Custom statuses of one base, sorted by text: [{id, text, n}]. */
  customsOf(base) {
    return [...this.byCustom].filter(([, e]) => e.base === base)
      .map(([id, e]) => ({ id, text: e.text, n: e.n }))
      .sort((a, b) => a.text.localeCompare(b.text));
  }
}
