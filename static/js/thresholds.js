// Time-in-status thresholds on the supervisor's page: the same rule as the server's
// (server/presence/core/thresholds.py). Pure.

/** @typedef {{warn: number, alert: number}} Threshold */
/** @typedef {Object<string, Threshold>} Thresholds status id or base → seconds */

/**
 * The threshold of a status: its own, else its base's, else null.
 * @param {Thresholds} thresholds
 * @param {string} statusId
 * @param {string} base
 * @returns {Threshold | null}
 */
export function thresholdFor(thresholds, statusId, base) {
  return thresholds[statusId] ?? thresholds[base] ?? null;
}

/**
 * 'alert' once the agent's time in status reached the alert threshold, 'warn' once it
 * reached warn, else null (also without a threshold, and for agents never signed in).
 * @param {Thresholds} thresholds
 * @param {{status_id: string, base: string, since: number, reason?: string}} agent
 * @param {number} now server-clock ms
 * @returns {'warn' | 'alert' | null}
 */
export function thresholdLevel(thresholds, agent, now) {
  const t = thresholdFor(thresholds, agent.status_id, agent.base);
  if (!t || agent.reason === 'never_signed_in') return null;
  const seconds = (now - agent.since) / 1000;
  if (seconds >= t.alert) return 'alert';
  if (seconds >= t.warn) return 'warn';
  return null;
}

/** Words for a level (shown beside the colour, never colour alone). */
export const LEVEL_TEXT = Object.freeze({ warn: 'Over warn threshold', alert: 'Over alert threshold' });
