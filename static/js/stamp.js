// Which of two presences (P) or agent views of one agent is the newer: the newest by
// (epoch, version). The version grows with every committed change; the epoch grows when
// the server finds that Redis lost writes a client may have seen, and then the
// corrective presence may carry a lower version than one already shown. A P without
// `epoch` (an older server) counts as epoch 0. Pure.

/**
 * [epoch, version] of a P or an agent view.
 * @param {{epoch?: number, version: number}} p
 * @returns {[number, number]}
 */
export function stamp(p) {
  return [p.epoch ?? 0, p.version];
}

/**
 * Whether `incoming` replaces `held` (true when nothing is held).
 * @param {{epoch?: number, version: number}} incoming
 * @param {{epoch?: number, version: number} | null | undefined} held
 * @returns {boolean}
 */
export function isNewer(incoming, held) {
  if (!held) return true;
  const [ie, iv] = stamp(incoming);
  const [he, hv] = stamp(held);
  return ie > he || (ie === he && iv > hv);
}
