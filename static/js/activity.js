// Activity reports of the agent page (decision 43): user input is reported to the server
// with {"type": "activity"} at most once per the `activity_interval` of `welcome`.

/**
 * Whether user input at `now` should be reported, given the last report.
 * @param {number | null} lastSentAt ms of the last report (null: none yet on this link)
 * @param {number} now ms
 * @param {number | null | undefined} intervalSeconds `activity_interval` of `welcome`
 * @returns {boolean}
 */
export function activityDue(lastSentAt, now, intervalSeconds) {
  if (!intervalSeconds || intervalSeconds <= 0) return lastSentAt === null;
  return lastSentAt === null || now - lastSentAt >= intervalSeconds * 1000;
}

/**
 * The next status's text for the page ("" when none is pending).
 * @param {{next_status_id?: string | null} | null} presence
 * @param {{id: string, text: string}[]} statuses the picker (or the catalog)
 * @returns {string}
 */
export function nextStatusText(presence, statuses) {
  const id = presence?.next_status_id;
  if (!id) return '';
  return statuses.find((s) => s.id === id)?.text ?? id;
}
