// Sign-in through the operator's identity provider (OpenID Connect, Authorization Code
// flow with PKCE, public client), with oauth4webapi (static/vendor, see static/README.md).
// The server says whether the pages do this (GET /auth/config). The page sends the
// provider's *access token* (a JWT for the server's audience) as its token, renews it
// with the refresh token before it expires (the open socket gets a `reauth` frame) and
// signs out through the provider's end_session_endpoint.
import * as oauth from '../vendor/oauth4webapi.js';
import { saveToken } from './auth.js';

const RENEW_BEFORE_MS = 60_000;
const MIN_RENEW_IN_MS = 5_000;

const sessionKey = (role) => `presence.${role}.sso`;
const flowKey = (role) => `presence.${role}.sso-flow`;
const read = (key) => JSON.parse(sessionStorage.getItem(key) ?? 'null');
const write = (key, value) => sessionStorage.setItem(key, JSON.stringify(value));

let provider = null; // { as, client, options, config }
let renewTimer = null;

async function connectProvider() {
  if (provider) return provider;
  const response = await fetch('/auth/config', { cache: 'no-store' });
  const config = response.ok ? await response.json() : {};
  if (!config.issuer || !config.client_id) return null;
  const issuer = new URL(config.issuer);
  // Plain-http issuers are accepted for providers on a trusted network and tests.
  const options = issuer.protocol === 'http:' ? { [oauth.allowInsecureRequests]: true } : {};
  const as = await oauth.processDiscoveryResponse(
    issuer, await oauth.discoveryRequest(issuer, { ...options, algorithm: 'oidc' }));
  provider = { as, client: { client_id: config.client_id }, options, config };
  return provider;
}

const redirectUri = () => location.origin + location.pathname;

/** Send the browser to the provider's sign-in. */
async function redirectToProvider(role, p) {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  write(flowKey(role), { verifier, state, nonce });
  const url = new URL(p.as.authorization_endpoint);
  url.searchParams.set('client_id', p.client.client_id);
  url.searchParams.set('redirect_uri', redirectUri());
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', p.config.scope);
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(verifier));
  url.searchParams.set('code_challenge_method', 'S256');
  url.searchParams.set('state', state);
  url.searchParams.set('nonce', nonce);
  location.assign(url.href);
}

function keep(role, result) {
  const previous = read(sessionKey(role)) ?? {};
  write(sessionKey(role), {
    refresh_token: result.refresh_token ?? previous.refresh_token ?? null,
    id_token: result.id_token ?? previous.id_token ?? null,
    expires_at: Date.now() + (result.expires_in ?? 300) * 1000,
  });
  saveToken(role, result.access_token);
  return result.access_token;
}

/** Back from the provider with ?code=…: the access token, the address bar cleaned. */
async function completeSignIn(role, p) {
  const flow = read(flowKey(role));
  sessionStorage.removeItem(flowKey(role));
  const current = new URL(location.href);
  history.replaceState(null, '', location.pathname);
  if (!flow) throw new Error('sign-in was not started in this tab');
  const params = oauth.validateAuthResponse(p.as, p.client, current, flow.state);
  const response = await oauth.authorizationCodeGrantRequest(
    p.as, p.client, oauth.None(), params, redirectUri(), flow.verifier, p.options);
  const result = await oauth.processAuthorizationCodeResponse(
    p.as, p.client, response, { expectedNonce: flow.nonce, requireIdToken: true });
  return keep(role, result);
}

/** Keep the token fresh: `onToken(token)` gets every renewed one. */
function scheduleRenewal(role, onToken) {
  clearTimeout(renewTimer);
  const session = read(sessionKey(role));
  if (!session?.refresh_token || !provider) return;
  const due = Math.max(session.expires_at - RENEW_BEFORE_MS - Date.now(), MIN_RENEW_IN_MS);
  renewTimer = setTimeout(async () => {
    try {
      const p = provider;
      const response = await oauth.refreshTokenGrantRequest(
        p.as, p.client, oauth.None(), read(sessionKey(role)).refresh_token, p.options);
      onToken(keep(role, await oauth.processRefreshTokenResponse(p.as, p.client, response)));
    } catch (error) {
      console.warn('token renewal failed', error); // the socket closes at exp (4003)
      return;
    }
    scheduleRenewal(role, onToken);
  }, due);
}

/**
 * Sign in through the provider when the server configures one and the page has no token
 * (`begin(token)` is called once one is there; the page may be left for the provider's
 * sign-in meanwhile). With a token already there, keep renewing it. Returns false when
 * the pages do not sign in through a provider.
 * @param {'agent' | 'supervisor'} role
 * @param {string | null} token the token the tab already holds
 * @param {(token: string) => void} begin
 * @param {(token: string) => void} onRenewed
 * @returns {Promise<boolean>}
 */
export async function providerSignIn(role, token, begin, onRenewed) {
  const p = await connectProvider().catch((error) => {
    console.warn('identity provider unreachable', error);
    return null;
  });
  if (!p) return false;
  if (token) {
    begin(token);
  } else if (new URLSearchParams(location.search).has('code')) {
    begin(await completeSignIn(role, p));
  } else {
    await redirectToProvider(role, p);
    return true;
  }
  scheduleRenewal(role, onRenewed);
  return true;
}

/**
 * After signing out of presence: end the provider's session too (leaves the page).
 * Returns false when the page did not sign in through a provider.
 * @param {'agent' | 'supervisor'} role
 * @returns {boolean}
 */
export function providerSignOut(role) {
  const session = read(sessionKey(role));
  sessionStorage.removeItem(sessionKey(role));
  clearTimeout(renewTimer);
  if (!session || !provider?.as.end_session_endpoint) return false;
  const url = new URL(provider.as.end_session_endpoint);
  url.searchParams.set('client_id', provider.client.client_id);
  if (session.id_token) url.searchParams.set('id_token_hint', session.id_token);
  url.searchParams.set('post_logout_redirect_uri', redirectUri());
  location.assign(url.href);
  return true;
}
