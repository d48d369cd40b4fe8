// WebSocket close codes of the presence server and what a page does after each. Pure: no
// DOM, no I/O. The source is server/presence/web/close_codes.py (RECONNECT_CODES);
// tests/unit/test_close_codes.py fails when this list and that one differ.

/** Codes after which the client reconnects with backoff and jitter (1006 = abnormal). */
export const RECONNECT_CODES = new Set([1001, 1006, 1011, 1012, 1013, 4013, 4020, 4021]);

/**
 * Whether a socket closed with `code` should be reopened.
 * @param {number} code
 * @returns {boolean}
 */
export function shouldReconnect(code) {
  return RECONNECT_CODES.has(code);
}

const STOPS = {
  1000: { title: 'Disconnected', message: 'The server closed the connection.' },
  1008: { title: 'Not allowed', message: 'The server refused this page’s origin.' },
  4001: { title: 'Sign-in failed', message: 'The token was not accepted. Paste a new one.', signIn: true },
  4002: { title: 'Sign-in timed out', message: 'The server waited too long for the sign-in.' },
  4003: { title: 'Session expired', message: 'Your token expired. Sign in again.', signIn: true },
  4004: { title: 'Wrong kind of token', message: 'This token is not allowed on this page.', signIn: true },
  4005: { title: 'Unknown agent', message: 'No agent is configured for this token.', signIn: true },
  4010: { title: 'Signed out', message: 'You were signed out (from another tab or by a supervisor).' },
  4011: { title: 'Replaced', message: 'Another connection replaced this one.' },
  4012: { title: 'Access revoked', message: 'An administrator revoked this sign-in. Ask for a new token.', signIn: true },
  4023: { title: 'Too many tabs', message: 'Too many tabs are open for this agent. Close one and retry.' },
};

/**
 * What to tell the user when a socket closed for good: {title, message, signIn}.
 * @param {number} code
 * @param {string} [serverMessage] the close reason
 * @returns {import('./link.js').Stop}
 */
export function describeStop(code, serverMessage = '') {
  const known = STOPS[code];
  const base = known ?? { title: 'Disconnected', message: `Connection closed (code ${code}).` };
  const message = serverMessage && !known ? `${base.message} ${serverMessage}` : base.message;
  return { title: base.title, message, signIn: Boolean(base.signIn), code };
}
