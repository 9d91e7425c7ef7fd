// A real OpenID provider on loopback for the tests of the ProConnect login: `oidc-provider`,
// the certified reference implementation, with an automatic login (the person set by the
// test) and a few test-only controls under /test/ (the person, rotating the signing key,
// forging the next ID token).
//
// node e2e/oidc-provider.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI POST_LOGOUT_URI
// Prints "ready" once listening.
import Provider from 'oidc-provider';
import * as jose from 'jose';
import http from 'node:http';
import { generateKeyPairSync } from 'node:crypto';

const [port, clientId, clientSecret, redirectUri, postLogoutUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
let account = { sub: 'agent-1', email: 'agent@example.fr', siret: '', given_name: 'Alex', usual_name: 'Martin' };
let keyCount = 0;
let forge = null;

function newKey() {
  keyCount += 1;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: `k${keyCount}`, use: 'sig', alg: 'RS256' };
}

let key = newKey();

function build() {
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      post_logout_redirect_uris: [postLogoutUri],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    jwks: { keys: [key] },
    pkce: { required: () => true },
    // ProConnect's scopes: one per claim.
    scopes: ['openid', 'email', 'given_name', 'usual_name', 'siret'],
    claims: { openid: ['sub'], email: ['email'], given_name: ['given_name'], usual_name: ['usual_name'], siret: ['siret'] },
    // The claims in the ID token itself (ProConnect also serves them from userinfo).
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: true },
    },
    findAccount: async (ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ ...account, sub }),
    }),
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: ['passnum-test-only'] },
  });
  provider.proxy = false;
  // The person logs in at once and consents to everything asked.
  provider.use(async (ctx, next) => {
    if (!ctx.path.startsWith('/interaction/')) {
      await next();
      if (forge && ctx.path === '/token' && ctx.body && ctx.body.id_token) {
        ctx.body = { ...ctx.body, id_token: await forged(ctx.body.id_token, forge) };
        forge = null;
      }
      return;
    }
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    let result;
    if (details.prompt.name === 'login') {
      result = { login: { accountId: account.sub } };
    } else {
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
      grant.addOIDCScope(details.params.scope);
      const missing = details.prompt.details.missingOIDCClaims;
      if (missing) grant.addOIDCClaims(missing);
      result = { consent: { grantId: await grant.save() } };
    }
    ctx.respond = false;
    await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
  });
  return provider;
}

// The next ID token, altered as a forger would: signed by another key, for another client,
// with another nonce, or expired.
async function forged(idToken, how) {
  const claims = jose.decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  if (how === 'audience') claims.aud = 'another-client';
  if (how === 'nonce') claims.nonce = 'not-the-one-sent';
  if (how === 'expired') { claims.iat = now - 7200; claims.exp = now - 3600; }
  let signing = key;
  if (how === 'signature') {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    signing = { ...privateKey.export({ format: 'jwk' }), kid: key.kid };
  }
  const pk = await jose.importJWK({ ...signing, alg: 'RS256' }, 'RS256');
  return new jose.SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: signing.kid }).sign(pk);
}

let provider = build();

const server = http.createServer((req, res) => {
  const url = new URL(req.url, issuer);
  if (req.method === 'POST' && url.pathname === '/test/account') {
    account = { ...account, ...Object.fromEntries(url.searchParams) };
    res.end('ok');
  } else if (req.method === 'POST' && url.pathname === '/test/rotate') {
    // The old key is gone: only the new one is published and signs.
    key = newKey();
    provider = build();
    res.end(key.kid);
  } else if (req.method === 'POST' && url.pathname === '/test/forge') {
    forge = url.searchParams.get('how');
    res.end('ok');
  } else {
    provider.callback()(req, res);
  }
});
server.listen(Number(port), '127.0.0.1', () => console.log('ready'));
