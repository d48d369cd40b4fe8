// Where the page's token comes from: the URL fragment (#token=…, then removed from the
// address bar and kept in sessionStorage for reloads) or a pasted token.

/**
 * The sessionStorage key of the page's token.
 * @param {'agent' | 'supervisor'} role
 * @returns {string}
 */
export function tokenKey(role) {
  return `presence.${role}.token`;
}

/**
 * The token for this tab, taking it from the fragment when one is there.
 * @param {'agent' | 'supervisor'} role
 * @returns {string | null}
 */
export function loadToken(role) {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  const fromHash = params.get('token');
  if (fromHash) {
    sessionStorage.setItem(tokenKey(role), fromHash);
    history.replaceState(null, '', location.pathname + location.search);
    return fromHash;
  }
  return sessionStorage.getItem(tokenKey(role));
}

/**
 * Keep `token` for this tab (reloads included).
 * @param {'agent' | 'supervisor'} role
 * @param {string} token
 * @returns {void}
 */
export function saveToken(role, token) {
  sessionStorage.setItem(tokenKey(role), token);
}

/**
 * Forget this tab's token (signed out).
 * @param {'agent' | 'supervisor'} role
 * @returns {void}
 */
export function forgetToken(role) {
  sessionStorage.removeItem(tokenKey(role));
}

/**
 * Wire the sign-in form: `onToken(token)` is called with a pasted token.
 * @param {HTMLFormElement} form
 * @param {'agent' | 'supervisor'} role
 * @param {(token: string) => void} onToken
 * @returns {void}
 */
export function bindSignIn(form, role, onToken) {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const input = form.elements.namedItem('token');
    const token = input.value.trim().replace(/^.*#token=/, '');
    if (!token) {
      input.focus();
      return;
    }
    input.value = '';
    saveToken(role, token);
    onToken(token);
  });
}
