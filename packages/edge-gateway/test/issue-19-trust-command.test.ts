/**
 * Issue 19 point 4 on the gateway side, against a real broker (aedes): a channel refused over certificate trust
 * reports the problem (`trust`, `outages`, `error`) in the state message; the platform's
 * `trust-server-certificate` command has the channel's driver trust the certificate named by thumbprint and
 * wakes the channel's retry loop (it does not wait out its backoff); a wrong thumbprint keeps the driver's code;
 * an unknown channel, a channel without certificates and a malformed command are refused with stable codes;
 * an identity password in the configuration never reaches a log line or the state.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChannelConfig, VersionedGatewayConfig } from '@iip/core';
import { EdgeGateway } from '@iip/edge-gateway';
import { tempDir, waitFor } from '@iip/testkit';
import { SyntheticDriver, syntheticChannel } from './fixtures/synthetic-driver.js';
import { TestPlatform } from './fixtures/test-platform.js';
import { MISMATCH_CODE, SERVER_CERT, TrustDriver } from './fixtures/trust-driver.js';

const PASSWORD = 'pw-Never-In-Logs-7731';

function opcuaChannel(id: string, device: string): ChannelConfig {
  return {
    id,
    protocol: 'opcua',
    endpointUrl: 'opc.tcp://127.0.0.1:48400',
    securityMode: 'SignAndEncrypt',
    pkiDir: '/tmp/iip-test-pki',
    identity: { type: 'username', username: 'operator', password: PASSWORD },
    devices: [{ id: device, points: [{ property: 'p0', nodeId: 'ns=1;s=filler.p0' }] }],
  };
}

type Result = { ok: boolean; certificate?: { thumbprint: string; subject: string }; error?: { code: string; message: string; details: Record<string, unknown> } };
type Log = { level: string; msg: string; fields?: Record<string, unknown> };
type ChannelState = { channel: string; state: string; error: { code: string } | null; trust?: { kind: string; certificate: { thumbprint: string } } | null; outages?: Array<{ end: number | null; code: string }> };

async function setup(t: { after: (fn: () => Promise<void>) => void }, connectDelayMs = 0) {
  const platform = await TestPlatform.start();
  const dir = await tempDir('iip-edge-trust-');
  const drivers = new Map<string, TrustDriver | SyntheticDriver>();
  const logs: Log[] = [];
  const config: VersionedGatewayConfig = { version: 1, config: { channels: [opcuaChannel('filler', 'filler-1'), syntheticChannel('modbus', ['meter-1'], 2)] } };
  const gw = new EdgeGateway({
    platform: { mqttUrl: platform.url, tenant: platform.tenant, gatewayId: platform.gatewayId, secret: platform.secret },
    dataDir: dir.path,
    initialConfig: config,
    stateIntervalMs: 60_000,
    reconnectPeriodMs: 200,
    driverFactory: (c) => {
      const d = c.protocol === 'opcua' ? new TrustDriver(c, connectDelayMs) : new SyntheticDriver(c);
      drivers.set(c.id, d);
      return d;
    },
    log: (level, msg, fields) => logs.push({ level, msg, ...(fields ? { fields } : {}) }),
  });
  t.after(async () => {
    await gw.stop();
    await platform.close();
    await dir.cleanup();
  });
  await gw.start();
  await waitFor(() => platform.states.length > 0, 'first state (subscriptions in place)');
  const lastChannel = (id: string): ChannelState | undefined =>
    (platform.states.at(-1)?.channels as ChannelState[] | undefined)?.find((c) => c.channel === id);
  let n = 0;
  const command = async (body: Record<string, unknown>): Promise<Result> => {
    const id = `c${++n}`;
    await platform.publish(`commands/${id}`, { expiresAt: Date.now() + 10_000, ...body });
    return (await waitFor(() => platform.commandResults.get(id), `result of ${JSON.stringify(body)}`)) as Result;
  };
  return { platform, gw, logs, lastChannel, command, filler: () => drivers.get('filler') as TrustDriver };
}

test('a trust problem is in the state; trusting the certificate wakes the retry loop and the channel runs', async (t) => {
  const { platform, logs, lastChannel, command, filler } = await setup(t);
  // The state says why at once (a new error is published, not left for the next 60 s interval).
  const refused = await waitFor(() => (lastChannel('filler')?.trust ? lastChannel('filler') : undefined), 'a state with the trust problem');
  assert.equal(refused.state, 'starting');
  assert.equal(refused.error?.code, 'IIP_ERR_OPCUA_STATUS');
  assert.equal(refused.trust?.kind, 'server-untrusted');
  assert.equal(refused.trust?.certificate.thumbprint, SERVER_CERT.thumbprint);
  assert.deepEqual(
    refused.outages?.map((o) => [o.code, o.end]),
    [['IIP_ERR_OPCUA_STATUS', null]],
    'the outage is open',
  );

  // Let the backoff grow to 4 s: 500 + 1000 + 2000 ms of waits, then the fourth attempt fails.
  await waitFor(() => logs.find((l) => l.msg === 'driver cannot start; retrying' && l.fields?.retryInMs === 4000), 'the channel waiting 4 s', 10_000);
  const attemptsBefore = filler().attempts.length;
  assert.equal(attemptsBefore, 4);

  const wrong = await command({ type: 'trust-server-certificate', channel: 'filler', thumbprint: '0'.repeat(40) });
  assert.equal(wrong.ok, false);
  assert.equal(wrong.error?.code, MISMATCH_CODE, "the driver's own code is passed through");
  assert.equal(filler().trusted, false);
  assert.equal(filler().attempts.length, attemptsBefore, 'a refused trust does not wake the channel');

  const sent = Date.now();
  // Lower case is accepted (upper-cased on arrival, as the thumbprint is defined).
  const ok = await command({ type: 'trust-server-certificate', channel: 'filler', thumbprint: SERVER_CERT.thumbprint.toLowerCase() });
  assert.deepEqual(ok, { ok: true, certificate: SERVER_CERT });
  assert.deepEqual(filler().trustCalls.at(-1), SERVER_CERT.thumbprint);
  const running = await waitFor(() => (lastChannel('filler')?.state === 'running' ? lastChannel('filler') : undefined), 'the channel running', 3000);
  const retriedAfter = filler().attempts[attemptsBefore]!.start - sent;
  assert.ok(retriedAfter < 1500, `the channel tried again ${retriedAfter} ms after the command, not after its 4 s backoff`);
  assert.equal(running.error, null);
  assert.equal(running.trust, null);
  assert.equal(running.outages?.length, 1);
  assert.equal(typeof running.outages?.[0]?.end, 'number', 'the outage is closed');

  const line = logs.find((l) => l.msg === 'server certificate trusted; the channel connects again now');
  assert.ok(line, 'the trust is logged');
  assert.deepEqual([line.level, line.fields?.channel, line.fields?.thumbprint, line.fields?.subject], ['info', 'filler', SERVER_CERT.thumbprint, SERVER_CERT.subject]);
  const failedLine = logs.find((l) => l.msg === 'command failed' && l.fields?.code === MISMATCH_CODE);
  assert.equal(failedLine?.fields?.type, 'trust-server-certificate');

  // The identity password is in the configuration the gateway runs, but in no log line and no state message.
  assert.ok(!JSON.stringify(logs).includes(PASSWORD), 'no log line carries the password');
  assert.ok(!JSON.stringify(platform.states).includes(PASSWORD), 'no state message carries the password');
});

test('trust while an attempt is under way: the channel tries again right after it, without waiting', async (t) => {
  const { lastChannel, command, filler } = await setup(t, 600);
  // Attempts take 600 ms each; waits are 500, 1000, 2000 ms. Trust during the third attempt.
  await waitFor(() => (filler().attempts.length === 3 && filler().attempts[2]!.end === null ? true : undefined), 'the third attempt under way', 10_000);
  const ok = await command({ type: 'trust-server-certificate', channel: 'filler', thumbprint: SERVER_CERT.thumbprint });
  assert.equal(ok.ok, true);
  await waitFor(() => (lastChannel('filler')?.state === 'running' ? true : undefined), 'the channel running', 5000);
  const [third, fourth] = [filler().attempts[2]!, filler().attempts[3]!];
  assert.equal(filler().attempts.length, 4);
  assert.ok(fourth.start - third.end! < 300, `the fourth attempt began ${fourth.start - third.end!} ms after the third failed, not after a 2 s wait`);
});

test('refusals: an unknown channel, a channel without certificates, a malformed or late command', async (t) => {
  const { command, filler } = await setup(t);
  const unknown = await command({ type: 'trust-server-certificate', channel: 'nope', thumbprint: SERVER_CERT.thumbprint });
  assert.equal(unknown.error?.code, 'IIP_ERR_EDGE_CHANNEL_UNKNOWN');
  assert.deepEqual(unknown.error?.details.channels, ['filler', 'modbus']);
  assert.equal(unknown.error?.details.appliedVersion, 1);

  const modbus = await command({ type: 'trust-server-certificate', channel: 'modbus', thumbprint: SERVER_CERT.thumbprint });
  assert.equal(modbus.error?.code, 'IIP_ERR_EDGE_TRUST_UNSUPPORTED');
  assert.equal(modbus.error?.details.protocol, 'modbus-tcp');

  for (const [body, field] of [
    [{ type: 'trust-server-certificate', thumbprint: SERVER_CERT.thumbprint }, 'channel'],
    [{ type: 'trust-server-certificate', channel: 'filler', thumbprint: 'AB:CD' }, 'thumbprint'],
    [{ type: 'trust-server-certificate', channel: 'filler', thumbprint: `${SERVER_CERT.thumbprint}00` }, 'thumbprint'],
    [{ type: 'trust-server-certificate', channel: 'filler', thumbprint: SERVER_CERT.thumbprint, expiresAt: 'soon' }, 'expiresAt'],
  ] as const) {
    const r = await command(body);
    assert.deepEqual([r.error?.code, r.error?.details.field], ['IIP_ERR_EDGE_COMMAND_INVALID', field], JSON.stringify(body));
  }
  const late = await command({ type: 'trust-server-certificate', channel: 'filler', thumbprint: SERVER_CERT.thumbprint, expiresAt: Date.now() - 1 });
  assert.equal(late.error?.code, 'IIP_ERR_EDGE_COMMAND_EXPIRED');
  assert.deepEqual(filler().trustCalls, [], 'no refused command reached the driver');
});
