/**
 * Issue 12, OpenID Connect sign-in against a real provider: oidc-provider (ADR 0010) runs on a free 127.0.0.1
 * port with a confidential client that must use PKCE, and the platform is configured for it. Each sign-in is
 * driven over real HTTP as a browser would: the platform's /start, the provider's login and consent forms (its
 * development interactions), the callback, and the console's code exchange — every redirect followed by hand.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import Provider, { type Account } from 'oidc-provider';
import { startTestPlatform, type TestPlatform } from './fixture.js';

const USER_PASSWORD = 'harbour-lamp-kettle-7';
const CLIENT_ID = 'iip-console';
const CLIENT_SECRET = 'a-client-secret-only-this-test-knows';

/** The provider's people: their claims may change between sign-ins, as at a real provider. */
const accounts = new Map<string, Record<string, unknown>>([
  ['alice', { preferred_username: 'alice', name: 'Alice', iip_tenant: 'acme', iip_roles: ['operator'] }],
  ['dave', { preferred_username: 'dave', iip_tenant: 'nowhere', iip_roles: ['viewer'] }],
  ['erin', { preferred_username: 'erin', iip_tenant: 'acme', iip_roles: ['viewer', 'made-up-role'] }],
  ['carol', { preferred_username: 'carol', iip_tenant: 'acme', iip_roles: ['viewer'] }],
  ['frank', { preferred_username: 'frank', iip_tenant: 'acme', iip_roles: ['platform-admin'] }],
  ['u-7f3a', { iip_tenant: 'acme', iip_roles: 'viewer auditor' }],
]);

let tp: TestPlatform;
let providerServer: Server;
let issuer: string;
/** While set, the provider's token responses reach the platform with one character of the ID token's signature changed. */
let tamperIdToken = false;

type ApiError = { code: string; message: string };
type Me = { username: string; tenant: string; access: { tenantWide: string[]; platformAdmin: boolean } };
type LoginBody = { token: string; expiresAt: number; user: { id: string; username: string; tenant: string }; access: { tenant: string; tenantWide: string[] } };
type Event = { tenant: string; actor: string; action: string; result: string; details: { status: number; code?: string; message?: string } };

/** Cookies by name, as a browser keeps them for one site (paths are not told apart; nothing here needs that). */
class Jar {
  private readonly cookies = new Map<string, string>();
  take(res: Response): void {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = (pair as string).indexOf('=');
      this.cookies.set((pair as string).slice(0, eq).trim(), (pair as string).slice(eq + 1).trim());
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  get(name: string): string | undefined {
    return this.cookies.get(name);
  }
}

/** One browser: its cookies for the platform and for the provider. */
function browser(): { platform: Jar; provider: Jar } {
  return { platform: new Jar(), provider: new Jar() };
}

async function get(url: string, jar: Jar): Promise<Response> {
  const res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header() } });
  jar.take(res);
  return res;
}

function location(res: Response, base: string): string {
  const l = res.headers.get('location');
  assert.ok(l, `expected a redirect, got ${res.status}`);
  return new URL(l, base).href;
}

/**
 * Starts a sign-in in `b` and walks the provider's login and consent pages as `account`; returns the callback URL
 * the provider sends the browser to (not yet visited).
 */
async function throughProvider(b: ReturnType<typeof browser>, account: string): Promise<string> {
  const start = await get(`${tp.platform.httpUrl}/api/v1/auth/oidc/start`, b.platform);
  assert.equal(start.status, 302);
  let url = location(start, tp.platform.httpUrl);
  for (let step = 0; step < 12; step++) {
    if (url.startsWith(tp.platform.httpUrl)) return url;
    assert.ok(url.startsWith(issuer), `left the provider for ${url}`);
    const res = await get(url, b.provider);
    if (res.status >= 300 && res.status < 400) {
      url = location(res, url);
      continue;
    }
    const html = await res.text();
    assert.equal(res.status, 200, html);
    const action = /<form[^>]*action="([^"]+)"[^>]*method="post"/.exec(html)?.[1];
    const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
    assert.ok(action && prompt, `no form on ${url}: ${html.slice(0, 300)}`);
    const form: Record<string, string> = prompt === 'login' ? { prompt, login: account, password: 'anything' } : { prompt };
    const posted = await fetch(new URL(action, url), {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: b.provider.header(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
    b.provider.take(posted);
    url = location(posted, url);
  }
  assert.fail('the provider did not send the browser back');
}

/** The platform's answer to a callback: where the console is sent. */
async function callback(b: ReturnType<typeof browser>, url: string): Promise<URL> {
  const res = await get(url, b.platform);
  assert.equal(res.status, 302);
  return new URL(location(res, tp.platform.httpUrl));
}

async function exchange(b: ReturnType<typeof browser>, code: string): Promise<{ status: number; body: LoginBody & ApiError }> {
  const res = await fetch(`${tp.platform.httpUrl}/api/v1/auth/oidc/exchange`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: b.platform.header() },
    body: JSON.stringify({ code }),
  });
  return { status: res.status, body: (await res.json()) as LoginBody & ApiError };
}

/** A whole sign-in; returns the console's landing URL and the browser. */
async function signIn(account: string): Promise<{ landed: URL; b: ReturnType<typeof browser> }> {
  const b = browser();
  const landed = await callback(b, await throughProvider(b, account));
  return { landed, b };
}

async function signedIn(account: string): Promise<LoginBody> {
  const { landed, b } = await signIn(account);
  const code = landed.searchParams.get('oidc');
  assert.ok(code, `refused: ${landed.href}`);
  const r = await exchange(b, code);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

function me(token: string) {
  return tp.anon<Me>('GET', '/api/v1/auth/me', undefined, { authorization: `Bearer ${token}` });
}

async function acmeUsers(): Promise<Array<{ id: string; username: string; grants: Array<{ id: string; role: string; asset: string | null }> }>> {
  const r = await tp.api<{ items: Array<{ id: string; username: string; grants: Array<{ id: string; role: string; asset: string | null }> }> }>('GET', '/api/v1/users', undefined, { 'x-iip-tenant': 'acme' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.items;
}

before(async () => {
  // The provider's port first (the platform is configured with its issuer), the provider itself once the
  // platform's port — and so the redirect URL to register — is known.
  providerServer = createServer();
  await new Promise<void>((resolve) => providerServer.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(providerServer.address() as AddressInfo).port}`;
  tp = await startTestPlatform({ oidc: { issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, label: 'Company SSO' } });
  const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [`${tp.platform.httpUrl}/api/v1/auth/oidc/callback`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    pkce: { required: () => true, methods: ['S256'] },
    // Claims beyond the standard ones reach the client through userinfo (the provider's default), as with many.
    claims: { openid: ['sub'], profile: ['preferred_username', 'name', 'iip_tenant', 'iip_roles'], email: ['email'] },
    findAccount: async (_ctx: unknown, id: string): Promise<Account | undefined> => {
      if (!accounts.has(id)) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...accounts.get(id) }) };
    },
    jwks: { keys: [{ ...key, kid: 'test-signing-key', use: 'sig', alg: 'RS256' }] },
    cookies: { keys: ['a-cookie-key-only-this-test-knows'] },
    ttl: { Interaction: 600, Session: 600, Grant: 600, AccessToken: 600, IdToken: 600 },
    features: { devInteractions: { enabled: true } },
  });
  const handle = provider.callback();
  providerServer.on('request', (req, res) => {
    if (tamperIdToken && req.method === 'POST' && req.url?.startsWith('/token')) {
      // Between the provider and the platform: the body keeps its length, the signature no longer matches.
      const end = res.end.bind(res) as (chunk?: unknown) => typeof res;
      res.end = ((chunk?: unknown) => {
        if (chunk === undefined || chunk === null) return end();
        const body = JSON.parse(String(chunk)) as { id_token?: string };
        if (body.id_token) {
          const i = body.id_token.length - 10;
          body.id_token = body.id_token.slice(0, i) + (body.id_token[i] === 'A' ? 'B' : 'A') + body.id_token.slice(i + 1);
        }
        return end(JSON.stringify(body));
      }) as typeof res.end;
    }
    handle(req, res);
  });

  const acme = await tp.api('POST', '/api/v1/tenants', { id: 'acme', name: 'Acme', admin: { username: 'acme-admin', password: USER_PASSWORD } });
  assert.equal(acme.status, 201, JSON.stringify(acme.body));
  const carol = await tp.api('POST', '/api/v1/users', { username: 'carol', password: USER_PASSWORD, grants: [{ role: 'viewer' }] }, { 'x-iip-tenant': 'acme' });
  assert.equal(carol.status, 201, JSON.stringify(carol.body));
});

after(async () => {
  await tp?.close();
  providerServer?.closeAllConnections();
  await new Promise((resolve) => providerServer?.close(resolve));
});

describe('OIDC sign-in', () => {
  test('the console learns that OIDC is on, and /start sends the browser to the provider with PKCE, state and nonce', async () => {
    const config = await tp.anon<{ enabled: boolean; label?: string }>('GET', '/api/v1/auth/oidc/config');
    assert.deepEqual([config.status, config.body], [200, { enabled: true, label: 'Company SSO' }]);
    const b = browser();
    const start = await get(`${tp.platform.httpUrl}/api/v1/auth/oidc/start`, b.platform);
    assert.equal(start.status, 302);
    const to = new URL(location(start, tp.platform.httpUrl));
    assert.equal(`${to.origin}${to.pathname}`, `${issuer}/auth`);
    const q = to.searchParams;
    assert.equal(q.get('response_type'), 'code');
    assert.equal(q.get('client_id'), CLIENT_ID);
    assert.equal(q.get('redirect_uri'), `${tp.platform.httpUrl}/api/v1/auth/oidc/callback`);
    assert.equal(q.get('code_challenge_method'), 'S256');
    assert.match(q.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.ok((q.get('state') ?? '').length >= 32 && (q.get('nonce') ?? '').length >= 32);
    assert.deepEqual(q.get('scope')?.split(' ').sort(), ['email', 'openid', 'profile']);
    const cookie = start.headers.getSetCookie().join('\n');
    assert.match(cookie, /^iip_oidc=[A-Za-z0-9_-]{43}; Path=\/api\/v1\/auth\/oidc; Max-Age=600; HttpOnly; SameSite=Lax$/m);
  });

  test('first sign-in creates the user in the claimed tenant with the claimed role; the code works once', async () => {
    const { landed, b } = await signIn('alice');
    assert.equal(landed.pathname, '/');
    const code = landed.searchParams.get('oidc');
    assert.ok(code, landed.href);
    const r = await exchange(b, code);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual([r.body.user.username, r.body.user.tenant, r.body.access.tenant], ['alice', 'acme', 'acme']);
    assert.ok(r.body.expiresAt > Date.now());

    const who = await me(r.body.token);
    assert.equal(who.status, 200);
    assert.deepEqual([who.body.username, who.body.tenant, who.body.access.platformAdmin], ['alice', 'acme', false]);
    assert.ok(who.body.access.tenantWide.includes('devices:invoke'), 'operator may invoke services');
    assert.ok(!who.body.access.tenantWide.includes('users:manage'), 'operator may not manage users');
    // The operator role works on a real request: reading devices yes, creating them no.
    assert.equal((await tp.anon('GET', '/api/v1/devices', undefined, { authorization: `Bearer ${r.body.token}` })).status, 200);
    assert.equal((await tp.anon('POST', '/api/v1/devices', { id: 'x1', product: 'sensor' }, { authorization: `Bearer ${r.body.token}` })).status, 403);

    const alice = (await acmeUsers()).find((u) => u.username === 'alice');
    assert.deepEqual(alice?.grants.map((g) => [g.role, g.asset, g.id.startsWith('oidc-')]), [['operator', null, true]]);
    // No password signs in as an OIDC user.
    const pw = await tp.anon<ApiError>('POST', '/api/v1/auth/login', { username: 'alice', password: USER_PASSWORD });
    assert.deepEqual([pw.status, pw.body.code], [401, 'IIP_ERR_AUTH_LOGIN_FAILED']);

    const again = await exchange(b, code);
    assert.deepEqual([again.status, again.body.code], [401, 'IIP_ERR_AUTH_OIDC_CODE']);
  });

  test('a code is refused in another browser than the one that signed in', async () => {
    const { landed } = await signIn('alice');
    const code = landed.searchParams.get('oidc');
    assert.ok(code, landed.href);
    const elsewhere = await exchange(browser(), code);
    assert.deepEqual([elsewhere.status, elsewhere.body.code], [401, 'IIP_ERR_AUTH_OIDC_CODE']);
  });

  test("a second sign-in with changed roles replaces the claim grants; a grant made by hand stays", async () => {
    const alice = (await acmeUsers()).find((u) => u.username === 'alice');
    assert.ok(alice);
    const byHand = await tp.api('POST', `/api/v1/users/${alice.id}/grants`, { role: 'viewer' }, { 'x-iip-tenant': 'acme' });
    assert.equal(byHand.status, 201, JSON.stringify(byHand.body));
    accounts.set('alice', { ...accounts.get('alice'), iip_roles: ['auditor'] });

    const session = await signedIn('alice');
    const who = await me(session.token);
    assert.ok(who.body.access.tenantWide.includes('audit:read'), 'now an auditor');
    assert.ok(!who.body.access.tenantWide.includes('devices:invoke'), 'no longer an operator');
    const grants = (await acmeUsers()).find((u) => u.username === 'alice')?.grants ?? [];
    assert.deepEqual(grants.map((g) => `${g.role}:${g.id.startsWith('oidc-') ? 'claim' : 'hand'}`).sort(), ['auditor:claim', 'viewer:hand']);
    // The same user, not a new one.
    assert.equal(session.user.id, alice.id);
  });

  test('without preferred_username the user is named oidc-<sub>; a roles claim may be one string', async () => {
    const session = await signedIn('u-7f3a');
    assert.deepEqual([session.user.username, session.user.tenant], ['oidc-u-7f3a', 'acme']);
    assert.ok(session.access.tenantWide.includes('audit:read'));
  });

  test('refusals: unknown tenant, unknown role, platform-admin by claim, a local user of the same name', async () => {
    const unknownTenant = await signIn('dave');
    assert.equal(unknownTenant.landed.searchParams.get('oidc_error'), 'IIP_ERR_AUTH_OIDC_TENANT');
    const unknownRole = await signIn('erin');
    assert.equal(unknownRole.landed.searchParams.get('oidc_error'), 'IIP_ERR_ACCESS_UNKNOWN_ROLE');
    const platformAdmin = await signIn('frank');
    assert.equal(platformAdmin.landed.searchParams.get('oidc_error'), 'IIP_ERR_AUTH_FORBIDDEN');
    const takeover = await signIn('carol');
    assert.equal(takeover.landed.searchParams.get('oidc_error'), 'IIP_ERR_AUTH_OIDC_USER_CONFLICT');

    const names = (await acmeUsers()).map((u) => u.username);
    assert.ok(!names.includes('erin') && !names.includes('frank'), 'a refused sign-in creates no user');
    // carol is still the local user she was: her password works, and she got no claim grant.
    const carol = await tp.anon<LoginBody>('POST', '/api/v1/auth/login', { username: 'carol', password: USER_PASSWORD });
    assert.equal(carol.status, 200);
    const carolGrants = (await acmeUsers()).find((u) => u.username === 'carol')?.grants ?? [];
    assert.deepEqual(carolGrants.map((g) => [g.role, g.id.startsWith('oidc-')]), [['viewer', false]]);
  });

  test('a tampered state, a callback without the browser cookie, and a replayed callback are refused', async () => {
    const b = browser();
    const cb = new URL(await throughProvider(b, 'alice'));
    const tampered = new URL(cb);
    tampered.searchParams.set('state', `${cb.searchParams.get('state')}x`);
    assert.equal((await callback(b, tampered.href)).searchParams.get('oidc_error'), 'IIP_ERR_AUTH_OIDC_STATE');

    const other = browser();
    const cb2 = await throughProvider(other, 'alice');
    assert.equal((await callback(browser(), cb2)).searchParams.get('oidc_error'), 'IIP_ERR_AUTH_OIDC_STATE');
    // The state is used up by that attempt: the right browser cannot use it afterwards either.
    assert.equal((await callback(other, cb2)).searchParams.get('oidc_error'), 'IIP_ERR_AUTH_OIDC_STATE');

    const b3 = browser();
    const cb3 = await throughProvider(b3, 'alice');
    assert.ok((await callback(b3, cb3)).searchParams.get('oidc'));
    assert.equal((await callback(b3, cb3)).searchParams.get('oidc_error'), 'IIP_ERR_AUTH_OIDC_STATE');
  });

  test('an ID token whose signature does not verify against the provider\'s JWKS is refused', async () => {
    tamperIdToken = true;
    try {
      const { landed } = await signIn('alice');
      assert.equal(landed.searchParams.get('oidc_error'), 'IIP_ERR_AUTH_OIDC_TOKEN');
    } finally {
      tamperIdToken = false;
    }
    // And the same sign-in untouched goes through.
    assert.equal((await signedIn('alice')).user.username, 'alice');
  });

  test('the audit trail has the sign-ins and the refusals', async () => {
    const events = async (tenant: string) => {
      const r = await tp.api<{ items: Event[] }>('GET', '/api/v1/audit/events?limit=1000', undefined, { 'x-iip-tenant': tenant });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.items.filter((e) => e.action === 'auth.oidc');
    };
    const acme = await events('acme');
    const platform = await events('default');
    const summary = (list: Event[]) => list.map((e) => `${e.actor} ${e.result} ${e.details.code ?? ''}`.trim());
    const a = summary(acme);
    assert.ok(a.filter((s) => s === 'alice ok').length >= 3, a.join('\n'));
    assert.ok(a.includes('erin failed IIP_ERR_ACCESS_UNKNOWN_ROLE'), a.join('\n'));
    assert.ok(a.includes('frank denied IIP_ERR_AUTH_FORBIDDEN'), a.join('\n'));
    assert.ok(a.includes('carol failed IIP_ERR_AUTH_OIDC_USER_CONFLICT'), a.join('\n'));
    assert.match(acme.find((e) => e.actor === 'erin')?.details.message ?? '', /made-up-role/);
    const p = summary(platform);
    assert.ok(p.includes('dave denied IIP_ERR_AUTH_OIDC_TENANT'), p.join('\n'));
    assert.ok(p.includes('- denied IIP_ERR_AUTH_OIDC_TOKEN'), p.join('\n'));
    assert.ok(p.filter((s) => s === '- failed IIP_ERR_AUTH_OIDC_STATE').length >= 4, p.join('\n'));
  });
});

describe('OIDC off', () => {
  test('without IIP_OIDC_ISSUER the config says so and nothing signs in', async () => {
    const plain = await startTestPlatform();
    try {
      const config = await plain.anon<{ enabled: boolean }>('GET', '/api/v1/auth/oidc/config');
      assert.deepEqual(config.body, { enabled: false });
      const start = await fetch(`${plain.platform.httpUrl}/api/v1/auth/oidc/start`, { redirect: 'manual' });
      assert.deepEqual([start.status, start.headers.get('location')], [302, '/?oidc_error=IIP_ERR_AUTH_OIDC_DISABLED']);
      const ex = await plain.anon<ApiError>('POST', '/api/v1/auth/oidc/exchange', { code: 'anything' });
      assert.deepEqual([ex.status, ex.body.code], [404, 'IIP_ERR_AUTH_OIDC_DISABLED']);
    } finally {
      await plain.close();
    }
  });
});
