// A real OpenID Provider (panva/oidc-provider) for the API's authentication tests.
//
// Usage: [OIDC_TEST_SIGNING_JWK=<private RSA JWK as JSON>] node provider.mjs <audience>
// Listens on a free port of 127.0.0.1 and prints one JSON line, {"issuer": "http://127.0.0.1:<port>"},
// once it accepts requests. Features used by the tests:
// - open dynamic client registration (POST /reg). A client may carry `test_claims` (client metadata
//   of this provider only): those claims are added to every access token issued to it, which is how
//   a test picks the tenant and the roles of its tokens;
// - the client_credentials grant with resource indicators: an access token for the resource
//   <audience> is a JWT (RS256, signed with a key generated at start and published in the JWKS)
//   whose `aud` is <audience>;
// - the authorization code grant with PKCE for public clients (the web console's sign-in), through
//   the provider's development sign-in and consent pages (any login and password are accepted),
//   with the same resource indicator and JWT access tokens;
// - refresh tokens for every client allowed the refresh_token grant (as Keycloak issues them to
//   its code-flow clients, without an `offline_access` scope), rotated on each use (public
//   clients). A client's `test_access_token_ttl` (seconds) shortens its access tokens' life, so a
//   test sees them expire.
// The signing key is OIDC_TEST_SIGNING_JWK when given (so a test can also sign tokens the provider
// would never issue, expired ones for example, with a key the provider publishes), else generated.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const audience = process.argv[2];
if (!audience) {
  console.error('usage: node provider.mjs <audience>');
  process.exit(2);
}

function generatedKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: `test-${randomUUID()}`, alg: 'RS256', use: 'sig' };
}
const signingKey = process.env.OIDC_TEST_SIGNING_JWK ? JSON.parse(process.env.OIDC_TEST_SIGNING_JWK) : generatedKey();

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    jwks: { keys: [signingKey] },
    clients: [],
    extraClientMetadata: {
      properties: ['test_claims', 'test_access_token_ttl'],
      validator(ctx, key, value) {
        if (key === 'test_claims' && value !== undefined && (typeof value !== 'object' || Array.isArray(value))) {
          throw new Error('test_claims must be an object');
        }
        if (key === 'test_access_token_ttl' && value !== undefined && !(Number.isInteger(value) && value > 0)) {
          throw new Error('test_access_token_ttl must be a positive integer');
        }
      },
    },
    features: {
      devInteractions: { enabled: true },
      registration: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo(ctx, resourceIndicator, client) {
          if (resourceIndicator !== audience) {
            throw new Provider.errors.InvalidTarget();
          }
          return {
            scope: 'api',
            audience,
            accessTokenTTL: client?.test_access_token_ttl ?? 300,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    async extraTokenClaims(ctx, token) {
      const client = await ctx.oidc.provider.Client.find(token.clientId);
      return client?.test_claims ?? undefined;
    },
  });
  provider.proxy = false;
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
