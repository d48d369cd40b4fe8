// Bases, their labels, the agent's picker groups and human wording of a presence. Pure.

export const BASES = Object.freeze(['available', 'busy', 'dnd', 'away', 'offline', 'inactive']);

export const BASE_LABELS = Object.freeze({
  available: 'Available',
  busy: 'Busy',
  dnd: 'Do not disturb',
  away: 'Away',
  offline: 'Offline',
  inactive: 'Inactive',
});

/** Short base names for tight places (table chips). */
export const BASE_SHORT = Object.freeze({
  available: 'Available', busy: 'Busy', dnd: 'DND', away: 'Away', offline: 'Offline', inactive: 'Inactive',
});

export const OOB_IDS = new Set(BASES);

/**
 * Whether a status is custom (not one of the six out-of-the-box ones).
 * @param {string} statusId
 * @returns {boolean}
 */
export function isCustom(statusId) {
  return !OOB_IDS.has(statusId);
}

/**
 * The picker, grouped by base in BASES order; each group lists the OOB status first and
 * then the custom ones in the server's order. Inactive is listed only while it is the
 * current status (set by the system), never selectable. A current status missing from
 * the list (say, forced by a supervisor) is shown in its group, not selectable.
 * → [{base, label, items: [{id, text, base, selectable, current, custom}]}]
 * @param {object[]} statuses the welcome's statuses
 * @param {object | null} presence the current P
 * @returns {object[]}
 */
export function pickerGroups(statuses, presence) {
  const currentId = presence?.status_id ?? null;
  const items = statuses.map((s) => ({ ...s }));
  if (currentId && !items.some((s) => s.id === currentId)) {
    items.push({ id: currentId, text: presence.text, base: presence.base, selectable: false });
  }
  const groups = [];
  for (const base of BASES) {
    const inBase = items.filter((s) => s.base === base
      && (base !== 'inactive' || s.id === currentId));
    if (!inBase.length) continue;
    inBase.sort((a, b) => Number(isCustom(a.id)) - Number(isCustom(b.id)));
    groups.push({
      base,
      label: BASE_LABELS[base],
      items: inBase.map((s) => ({
        id: s.id,
        text: s.text,
        base: s.base,
        selectable: Boolean(s.selectable) && base !== 'inactive',
        current: s.id === currentId,
        custom: isCustom(s.id),
      })),
    });
  }
  return groups;
}

const REASONS = {
  never_signed_in: 'never signed in',
  sign_in: 'signed in',
  manual: 'picked',
  capacity: 'capacity changed',
  session_limit: 'session limit reached',
  missed_offer: 'missed an offer',
  rejected_offer: 'rejected an offer',
  disconnected: 'disconnected',
  signed_out: 'signed out',
  heartbeat_timeout: 'connection lost',
  instance_lost: 'server lost',
  restored: 'reconnected in time',
  grace_expired: 'did not reconnect in time',
  supervisor: 'by a supervisor',
  idle: 'idle',
  active: 'back from idle',
  next_status: 'next status after sessions',
  state_unreadable: 'stored state unreadable',
};

/**
 * A stable reason word in plain language (free text from a supervisor is kept).
 * @param {string | null | undefined} reason
 * @returns {string}
 */
export function reasonText(reason) {
  return REASONS[reason] ?? reason ?? '';
}

/**
 * One line saying where the current status came from, e.g. "Set by supervisor S1: coaching".
 * `viewer` is 'agent' (the agent's own page) or 'supervisor'.
 * @param {object} p a P or an agent view
 * @param {'agent' | 'supervisor'} [viewer]
 * @returns {string}
 */
export function sourceText(p, viewer = 'agent') {
  if (!p) return '';
  const own = viewer === 'agent';
  switch (p.source) {
    case 'manual': return own ? 'Set by you' : 'Picked by the agent';
    case 'auto': return own ? 'Automatic, from your workload' : 'Automatic, from the workload';
    case 'default': return own ? 'Your default status at sign-in' : 'Default status at sign-in';
    case 'restored': return 'Restored after reconnecting';
    case 'supervisor': {
      const who = p.actor ? `supervisor ${p.actor}` : 'a supervisor';
      // The note; records from before notes existed kept the text in `reason`.
      const text = p.note ?? (p.reason && p.reason !== 'supervisor' ? p.reason : null);
      return `Set by ${who}${text ? `: ${text}` : ''}`;
    }
    case 'system': return `Set by the system (${reasonText(p.reason)})${p.note ? `: ${p.note}` : ''}`;
    default: return p.source ?? '';
  }
}

/**
 * Up to `limit` [key, value] pairs of a work item payload worth showing.
 * @param {object | null | undefined} payload
 * @param {number} [limit]
 * @returns {[string, string][]}
 */
export function summarizePayload(payload, limit = 4) {
  if (!payload || typeof payload !== 'object') return [];
  const out = [];
  for (const [k, v] of Object.entries(payload)) {
    if (out.length >= limit) break;
    if (v === null || typeof v === 'object') continue;
    out.push([k.replaceAll('_', ' '), String(v).slice(0, 120)]);
  }
  return out;
}
