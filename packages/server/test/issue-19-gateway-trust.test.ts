/**
 * Issue 19 points 4 and 6 on the platform side, with a real mqtt.js client standing in for the gateway (the edge
 * gateway runtime has its own tests): POST /api/v1/gateways/{id}/channels/{channel}/trust-server-certificate
 * sends the trust command (thumbprint normalised), says what the gateway answered, is audited with thumbprint and
 * subject, and needs gateways:write; an OPC UA username identity's password is write-only — kept across versions
 * when not sent again, pushed to the gateway, and in no API read-back at all.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { waitFor } from '@iip/testkit';
import mqtt, { type MqttClient } from 'mqtt';
import { type TestPlatform, startTestPlatform } from './fixture.js';

const USER_PASSWORD = 'harbour-lamp-kettle-7';
const P1 = 'first-Secret-pw-5521';
const P2 = 'second-Secret-pw-8804';
const CERT = {
  thumbprint: 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678',
  subject: 'CN=Filler PLC, O=Plant 1',
  issuer: 'CN=Filler PLC, O=Plant 1',
  notBefore: '2025-01-01T00:00:00.000Z',
  notAfter: '2035-01-01T00:00:00.000Z',
  applicationUri: 'urn:filler-plc:server',
  pem: '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n',
};

let tp: TestPlatform;
let gw: MqttClient;
const commands: Array<{ id: string; body: Record<string, unknown> }> = [];
const configs: Array<{ version: number; config: { channels: Array<Record<string, unknown>> } }> = [];

type ApiError = { code: string; message: string; details: Record<string, unknown> };

function uaChannel(id: string, device: string, identity: Record<string, unknown>) {
  return {
    id,
    protocol: 'opcua',
    endpointUrl: 'opc.tcp://127.0.0.1:48400',
    securityMode: 'SignAndEncrypt',
    pkiDir: '/var/lib/iip/pki',
    identity,
    devices: [{ id: device, points: [{ property: 'temperature', nodeId: 'ns=1;s=plc.temperature' }] }],
  };
}

before(async () => {
  tp = await startTestPlatform();
  for (const a of [
    { id: 'site', level: 'site', name: 'Site' },
    { id: 'hall-1', parent: 'site', level: 'area', name: 'Hall 1' },
  ]) {
    const r = await tp.api('POST', '/api/v1/assets', a);
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
  const r = await tp.api<{ secret: string }>('POST', '/api/v1/devices', { id: 'gw-1', product: 'iip-edge-gateway', asset: 'hall-1' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  await tp.createDevice('plc-1');
  await tp.createDevice('plc-2');
  gw = await mqtt.connectAsync(`mqtt://127.0.0.1:${tp.platform.mqttPort}`, { username: 'default/gw-1', password: r.body.secret, reconnectPeriod: 0, clientId: 'default/gw-1' });
  gw.on('message', (topic, payload) => {
    if (topic === 'iip/default/gw-1/config') {
      configs.push(JSON.parse(payload.toString()));
      return;
    }
    const m = /^iip\/default\/gw-1\/commands\/(.+)$/.exec(topic);
    if (!m) return;
    const body = JSON.parse(payload.toString()) as Record<string, unknown>;
    commands.push({ id: m[1]!, body });
    // What the OPC UA driver does: only the certificate it rejected may be trusted.
    const reply =
      body.thumbprint === CERT.thumbprint
        ? { ok: true, certificate: CERT }
        : { ok: false, error: { code: 'IIP_ERR_OPCUA_TRUST_MISMATCH', message: `thumbprint ${String(body.thumbprint)} is not the rejected certificate's`, details: {} } };
    void gw.publishAsync(`iip/default/gw-1/command-results/${m[1]}`, JSON.stringify(reply), { qos: 1 });
  });
  await gw.subscribeAsync(['iip/default/gw-1/commands/+', 'iip/default/gw-1/config'], { qos: 1 });
});
after(async () => {
  await gw?.endAsync();
  await tp?.close();
});

/** Users with a role on hall-1, signed in. */
async function userWith(username: string, role: string) {
  const created = await tp.api<ApiError>('POST', '/api/v1/users', { username, password: USER_PASSWORD, grants: [{ role, asset: 'hall-1' }] });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const login = await tp.anon<{ token: string }>('POST', '/api/v1/auth/login', { username, password: USER_PASSWORD });
  assert.equal(login.status, 200);
  return <T = ApiError>(method: string, path: string, body?: unknown) => tp.anon<T>(method, path, body, { authorization: `Bearer ${login.body.token}` });
}

test('a username password is write-only: kept across versions, pushed to the gateway, never read back', async () => {
  const v1 = await tp.api<{ version: number }>('PUT', '/api/v1/gateways/gw-1/config', { channels: [uaChannel('ua-1', 'plc-1', { type: 'username', username: 'operator', password: P1 })] });
  assert.equal(v1.status, 200, JSON.stringify(v1.body));
  const pushed1 = await waitFor(() => configs.find((c) => c.version === 1), 'v1 pushed');
  assert.deepEqual(pushed1.config.channels[0]?.identity, { type: 'username', username: 'operator', password: P1 }, 'the gateway gets the password');

  const read = await tp.api<{ desired: { version: number; config: { channels: Array<{ identity: unknown }> } } }>('GET', '/api/v1/gateways/gw-1');
  assert.equal(read.status, 200);
  assert.deepEqual(read.body.desired.config.channels[0]?.identity, { type: 'username', username: 'operator', passwordSet: true });

  // The configuration as read back, sent again (passwordSet and all): the password stays.
  const v2 = await tp.api<{ version: number }>('PUT', '/api/v1/gateways/gw-1/config', read.body.desired.config);
  assert.equal(v2.status, 200, JSON.stringify(v2.body));
  const pushed2 = await waitFor(() => configs.find((c) => c.version === 2), 'v2 pushed');
  assert.deepEqual(pushed2.config.channels[0]?.identity, { type: 'username', username: 'operator', password: P1 }, 'kept from v1, passwordSet not stored');

  // A new password replaces it; a second channel with a username but no password has nothing to keep.
  const v3 = await tp.api('PUT', '/api/v1/gateways/gw-1/config', { channels: [uaChannel('ua-1', 'plc-1', { type: 'username', username: 'operator', password: P2 })] });
  assert.equal(v3.status, 200, JSON.stringify(v3.body));
  const pushed3 = await waitFor(() => configs.find((c) => c.version === 3), 'v3 pushed');
  assert.deepEqual(pushed3.config.channels[0]?.identity, { type: 'username', username: 'operator', password: P2 });
  const missing = await tp.api<ApiError>('PUT', '/api/v1/gateways/gw-1/config', {
    channels: [uaChannel('ua-1', 'plc-1', { type: 'username', username: 'operator' }), uaChannel('ua-2', 'plc-2', { type: 'username', username: 'reader', passwordSet: true })],
  });
  assert.equal(missing.status, 400);
  assert.equal(missing.body.code, 'IIP_ERR_GATEWAY_CONFIG_INVALID');
  assert.equal(missing.body.details.path, 'channels[1].identity.password');
  assert.match(missing.body.message, /ua-2/);
  assert.equal((await tp.api<{ desired: { version: number } }>('GET', '/api/v1/gateways/gw-1')).body.desired.version, 3, 'nothing stored');

  // A refused identity does not echo the password either.
  const badShape = await tp.api<ApiError>('PUT', '/api/v1/gateways/gw-1/config', { channels: [uaChannel('ua-1', 'plc-1', { type: 'user', username: 'operator', password: P2 })] });
  assert.equal(badShape.status, 400);
  assert.ok(!JSON.stringify(badShape.body).includes(P2));

  // Every read-back of the API, searched whole.
  const viewer = await userWith('gw-viewer', 'viewer');
  const reads = [
    await tp.api('GET', '/api/v1/gateways/gw-1'),
    await tp.api('GET', '/api/v1/gateways'),
    await tp.api('GET', '/api/v1/audit?device=gw-1'),
    await tp.api('GET', '/api/v1/audit'),
    await tp.api('GET', '/api/v1/devices/gw-1'),
    await viewer('GET', '/api/v1/gateways/gw-1'),
  ];
  for (const r of reads) assert.equal(r.status, 200, JSON.stringify(r.body));
  const all = JSON.stringify(reads.map((r) => r.body));
  assert.ok(!all.includes(P1) && !all.includes(P2), 'no password in any read-back');
  assert.ok(all.includes('"passwordSet":true'));
});

test('trusting a server certificate: sent to the gateway, answered, audited; refusals say why', async () => {
  // The gateway reports the channel refused over trust (as the OPC UA driver's health does).
  await gw.publishAsync(
    'iip/default/gw-1/state',
    JSON.stringify({
      ts: Date.now(),
      appliedVersion: 3,
      channels: [
        {
          channel: 'ua-1',
          protocol: 'opcua',
          connected: false,
          devices: [],
          state: 'starting',
          error: { code: 'IIP_ERR_OPCUA_STATUS', message: 'this client does not trust the certificate' },
          trust: { kind: 'server-untrusted', certificate: CERT, fix: 'Trust it.', since: Date.now() - 60_000 },
          outages: [{ start: Date.now() - 60_000, end: null, code: 'IIP_ERR_OPCUA_STATUS', message: 'untrusted' }],
        },
      ],
    }),
    { qos: 1 },
  );
  const shown = await waitFor(async () => {
    const s = await tp.api<{ reported: { state: { channels: Array<{ trust?: { certificate: { thumbprint: string } } }> } } | null }>('GET', '/api/v1/gateways/gw-1');
    return s.body.reported?.state.channels[0]?.trust ? s.body : undefined;
  }, 'the trust problem in GET /gateways/gw-1');
  assert.equal(shown.reported?.state.channels[0]?.trust?.certificate.thumbprint, CERT.thumbprint);

  const url = '/api/v1/gateways/gw-1/channels/ua-1/trust-server-certificate';
  const bad = await tp.api<ApiError>('POST', url, { thumbprint: 'not-a-thumbprint' });
  assert.equal(bad.status, 400);
  assert.deepEqual([bad.body.code, bad.body.details.field], ['IIP_ERR_VALIDATION', 'thumbprint']);
  const noChannel = await tp.api<ApiError>('POST', '/api/v1/gateways/gw-1/channels/nope/trust-server-certificate', { thumbprint: CERT.thumbprint });
  assert.equal(noChannel.status, 404);
  assert.equal(noChannel.body.code, 'IIP_ERR_NOT_FOUND');
  const noGateway = await tp.api<ApiError>('POST', '/api/v1/gateways/nope/channels/ua-1/trust-server-certificate', { thumbprint: CERT.thumbprint });
  assert.equal(noGateway.status, 404);

  // Without gateways:write on the gateway's asset: refused, nothing sent.
  const sentBefore = commands.length;
  for (const role of ['viewer', 'operator']) {
    const as = await userWith(`gw-${role}-2`, role);
    const refused = await as('POST', url, { thumbprint: CERT.thumbprint });
    assert.equal(refused.status, 403, `${role}: ${JSON.stringify(refused.body)}`);
    assert.deepEqual([refused.body.code, refused.body.details.permission], ['IIP_ERR_AUTH_FORBIDDEN', 'gateways:write']);
  }
  assert.equal(commands.length, sentBefore);

  const mismatch = await tp.api<ApiError & { details: { error: { code: string } } }>('POST', url, { thumbprint: '0'.repeat(40) });
  assert.equal(mismatch.status, 502);
  assert.deepEqual([mismatch.body.code, mismatch.body.details.error.code], ['IIP_ERR_COMMAND_FAILED', 'IIP_ERR_OPCUA_TRUST_MISMATCH']);

  // An engineer on hall-1 may; the thumbprint as copied from a tool (lower case, colons) is normalised.
  const engineer = await userWith('gw-engineer', 'engineer');
  const spaced = CERT.thumbprint.toLowerCase().match(/../g)!.join(':');
  const ok = await engineer<{ ok: boolean; outcome: string; requestId: string; channel: string; certificate: typeof CERT }>('POST', url, { thumbprint: spaced });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.deepEqual([ok.body.ok, ok.body.outcome, ok.body.channel], [true, 'done', 'ua-1']);
  assert.deepEqual(ok.body.certificate, CERT);
  const cmd = commands.find((c) => c.id === ok.body.requestId);
  assert.ok(cmd);
  assert.deepEqual({ ...cmd.body, expiresAt: typeof cmd.body.expiresAt }, { type: 'trust-server-certificate', channel: 'ua-1', thumbprint: CERT.thumbprint, expiresAt: 'number' });

  type Entry = { action: string; actor: string; device: string; property: string | null; newValue: unknown; result: string; error: string | null };
  const audit = await tp.api<{ items: Entry[] }>('GET', '/api/v1/audit?device=gw-1');
  const trusts = audit.body.items.filter((e) => e.action === 'gateway.trust-certificate');
  assert.deepEqual(
    trusts.map((e) => [e.actor, e.property, e.newValue, e.result, e.error]),
    [
      ['gw-engineer', 'ua-1', { thumbprint: CERT.thumbprint, subject: CERT.subject }, 'ok', null],
      ['admin', 'ua-1', { thumbprint: '0'.repeat(40), subject: null }, 'error', 'IIP_ERR_OPCUA_TRUST_MISMATCH'],
    ],
  );
});
