// Supervisor feed cursors: "shard:streamId" per shard, comma-joined. Pure.
// A stream id is "ms-seq"; ids compare numerically by ms, then by seq.

/**
 * Compare two stream ids: negative, 0 or positive.
 * @param {string} a
 * @param {string} b
 * @returns {number}
 */
export function compareStreamIds(a, b) {
  const [am, as = '0'] = a.split('-');
  const [bm, bs = '0'] = b.split('-');
  const dm = BigInt(am) - BigInt(bm);
  if (dm !== 0n) return dm < 0n ? -1 : 1;
  const ds = BigInt(as) - BigInt(bs);
  return ds === 0n ? 0 : ds < 0n ? -1 : 1;
}

const PART = /^(\d+):(\d+)-(\d+)$/;

/**
 * "0:1-0,1:5-2" → Map{0 → "1-0", 1 → "5-2"}; malformed parts are skipped.
 * @param {string | null | undefined} cursor
 * @returns {Map<number, string>}
 */
export function parseCursor(cursor) {
  const heads = new Map();
  for (const part of (cursor ?? '').split(',')) {
    const m = PART.exec(part.trim());
    if (m) heads.set(Number(m[1]), `${m[2]}-${m[3]}`);
  }
  return heads;
}

/**
 * Keep the later id per shard: merge one event cursor "shard:id" into `heads` (mutates);
 * returns whether it moved.
 * @param {Map<number, string>} heads
 * @param {string | null | undefined} eventCursor
 * @returns {boolean}
 */
export function advanceCursor(heads, eventCursor) {
  const m = PART.exec(eventCursor ?? '');
  if (!m) return false;
  const shard = Number(m[1]);
  const id = `${m[2]}-${m[3]}`;
  const held = heads.get(shard);
  if (held !== undefined && compareStreamIds(id, held) <= 0) return false;
  heads.set(shard, id);
  return true;
}

/**
 * Map → "0:1-0,1:5-2" (shards ascending); null when empty.
 * @param {Map<number, string>} heads
 * @returns {string | null}
 */
export function formatCursor(heads) {
  if (!heads.size) return null;
  return [...heads.keys()].sort((a, b) => a - b).map((s) => `${s}:${heads.get(s)}`).join(',');
}
