// A real OpenID provider (oidc-provider) on loopback for the single sign-on tests.
//   node provider.mjs            prints "listening <port>" once it answers
// One public client `presence-pages` (PKCE, refresh tokens) whose redirect URIs are
// /agent and /supervisor on any loopback port (a native client, RFC 8252 §7.3). Access
// tokens are RS256 JWTs for the resource `urn:presence` carrying `role` and `teams`;
// any login is accepted through the dev login and consent forms: a login starting with S is a
// supervisor of every team, one starting with X an admin, any other an agent.
import { createServer } from 'node:http';
import { generateKeyPair, exportJWK } from 'jose';
import Provider from 'oidc-provider';

const RESOURCE = 'urn:presence';
const ACCESS_TOKEN_TTL = Number(process.env.ACCESS_TOKEN_TTL ?? 300);

function account(id) {
  if (id.startsWith('S')) return { role: 'supervisor', teams: ['*'] };
  if (id.startsWith('X')) return { role: 'admin', teams: [] };
  return { role: 'agent', teams: [] };
}

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const signing = { ...(await exportJWK(privateKey)), kid: 'test-rs256', alg: 'RS256', use: 'sig' };

const http = createServer();
await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${http.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'presence-pages',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/agent', 'http://127.0.0.1/supervisor'],
    post_logout_redirect_uris: ['http://127.0.0.1/agent', 'http://127.0.0.1/supervisor'],
  }],
  jwks: { keys: [signing] },
  pkce: { required: () => true },
  clientBasedCORS: () => true,
  cookies: { keys: ['test-cookie-key-not-secret'] },
  ttl: { AccessToken: ACCESS_TOKEN_TTL },
  scopes: ['openid', 'offline_access', 'presence'],
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'presence', audience: RESOURCE, accessTokenFormat: 'jwt',
        accessTokenTTL: ACCESS_TOKEN_TTL, jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  async extraTokenClaims(_ctx, token) {
    return token.accountId ? account(token.accountId) : undefined;
  },
  async findAccount(_ctx, id) {
    return { accountId: id, async claims() { return { sub: id }; } };
  },
});
provider.on('server_error', (_ctx, err) => console.error('server_error', err));
http.on('request', provider.callback());
console.log(`listening ${http.address().port}`);
