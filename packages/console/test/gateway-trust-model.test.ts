/**
 * Issue 19 in the console, the pure part: a channel's trust problem and outage history read from whatever the
 * gateway sent (half-written documents never break the page), durations, validity, the codes shown for a refused
 * trust request, and the feature's dictionary.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeChannels, readGatewayState } from '../src/gateway-state.ts';
import { TRUST_DICTIONARY, trustText } from '../src/gateway-trust/trust-i18n.ts';
import {
  formatDuration,
  outageDurationMs,
  pemFileName,
  readOutages,
  readTrust,
  refusalCodes,
  thumbprintPairs,
  validityState,
} from '../src/gateway-trust/trust-model.ts';

const CERT = {
  thumbprint: 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678',
  subject: 'CN=Filler PLC',
  issuer: 'CN=Filler PLC',
  notBefore: '2025-01-01T00:00:00.000Z',
  notAfter: '2035-01-01T00:00:00.000Z',
  applicationUri: 'urn:filler:server',
  pem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
};

test('readTrust reads a trust problem and ignores what is not one', () => {
  const t = readTrust({ kind: 'server-untrusted', certificate: CERT, fix: 'Trust it.', since: 5 });
  assert.deepEqual(t, { kind: 'server-untrusted', certificate: CERT, fix: 'Trust it.', since: 5 });
  assert.equal(readTrust({ kind: 'client-untrusted', certificate: { thumbprint: 'AB' } })?.certificate.subject, '');
  assert.equal(readTrust({ kind: 'client-untrusted', certificate: { thumbprint: 'AB' } })?.certificate.applicationUri, undefined);
  for (const v of [undefined, null, 1, 'x', [], {}, { kind: 'other', certificate: CERT }, { kind: 'server-untrusted' }, { kind: 'server-untrusted', certificate: { subject: 'x' } }]) {
    assert.equal(readTrust(v), undefined, JSON.stringify(v));
  }
});

test('readOutages: newest first, unreadable entries left out, undefined when the channel keeps no history', () => {
  assert.deepEqual(
    readOutages([
      { start: 10, end: 20, code: 'IIP_ERR_DRIVER_CONNECT', message: 'refused' },
      null,
      { end: 5 },
      { start: 30, end: null, code: 'IIP_ERR_OPCUA_STATUS', message: 'untrusted' },
    ]),
    [
      { start: 30, end: undefined, code: 'IIP_ERR_OPCUA_STATUS', message: 'untrusted' },
      { start: 10, end: 20, code: 'IIP_ERR_DRIVER_CONNECT', message: 'refused' },
    ],
  );
  assert.equal(readOutages(undefined), undefined);
  assert.equal(readOutages({}), undefined);
  assert.deepEqual(readOutages([]), []);
});

test('the gateway state carries trust and outages per channel, also through the merge with the configuration', () => {
  const view = readGatewayState({
    channels: [{ channel: 'ua-1', protocol: 'opcua', connected: false, devices: [], state: 'starting', trust: { kind: 'server-untrusted', certificate: CERT }, outages: [{ start: 1, end: null }] }],
  });
  const merged = mergeChannels(
    { channels: [{ id: 'ua-1', protocol: 'opcua', endpointUrl: 'opc.tcp://h:4840', securityMode: 'SignAndEncrypt', devices: [] }, { id: 'mb', protocol: 'modbus-tcp', host: 'h', port: 502, devices: [] }] },
    view.channels,
  );
  assert.equal(merged[0]?.trust?.certificate.thumbprint, CERT.thumbprint);
  assert.deepEqual(merged[0]?.outages, [{ start: 1, end: undefined, code: undefined, message: undefined }]);
  assert.equal(merged[1]?.trust, undefined);
  assert.equal(merged[1]?.outages, undefined, 'a silent channel has no history to show');
});

test('durations in their two largest adjacent units, in both languages', () => {
  const cases: Array<[number, string, string]> = [
    [0, '0 s', '0 秒'],
    [45_400, '45 s', '45 秒'],
    [200_000, '3 min 20 s', '3 分 20 秒'],
    [7_500_000, '2 h 5 min', '2 小时 5 分'],
    [7_205_000, '2 h', '2 小时'],
    [3 * 86_400_000 + 4 * 3_600_000 + 59_000, '3 d 4 h', '3 天 4 小时'],
  ];
  for (const [ms, en, zh] of cases) {
    assert.equal(formatDuration(ms, 'en'), en);
    assert.equal(formatDuration(ms, 'zh'), zh);
  }
  assert.equal(outageDurationMs({ start: 1000, end: undefined, code: undefined, message: undefined }, 61_000), 60_000, 'an ongoing outage lasts until now');
  assert.equal(outageDurationMs({ start: 1000, end: 3000, code: undefined, message: undefined }, 61_000), 2000);
});

test('validity, thumbprint pairs, refusal codes, file names', () => {
  const c = readTrust({ kind: 'server-untrusted', certificate: CERT })!.certificate;
  assert.equal(validityState(c, Date.parse('2030-01-01')), 'valid');
  assert.equal(validityState(c, Date.parse('2036-01-01')), 'expired');
  assert.equal(validityState(c, Date.parse('2024-01-01')), 'notYetValid');
  assert.equal(validityState({ ...c, notAfter: undefined }, 0), 'unknown');
  assert.equal(thumbprintPairs('A1B2C3'), 'A1:B2:C3');
  assert.deepEqual(refusalCodes('IIP_ERR_COMMAND_FAILED', { error: { code: 'IIP_ERR_OPCUA_TRUST_MISMATCH' } }), ['IIP_ERR_COMMAND_FAILED', 'IIP_ERR_OPCUA_TRUST_MISMATCH']);
  assert.deepEqual(refusalCodes('IIP_ERR_AUTH_FORBIDDEN', { permission: 'gateways:write' }), ['IIP_ERR_AUTH_FORBIDDEN']);
  assert.deepEqual(refusalCodes('IIP_ERR_CONSOLE_NETWORK', undefined), ['IIP_ERR_CONSOLE_NETWORK']);
  assert.equal(pemFileName('client-untrusted', CERT.thumbprint), 'iip-client-a1b2c3d4.pem');
});

test('the trust dictionary has the same keys and placeholders in both languages', () => {
  const ph = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
  const keys = Object.keys(TRUST_DICTIONARY.en).sort();
  assert.deepEqual(Object.keys(TRUST_DICTIONARY.zh).sort(), keys);
  for (const k of keys as Array<keyof typeof TRUST_DICTIONARY.en>) {
    assert.ok(TRUST_DICTIONARY.en[k].trim() && TRUST_DICTIONARY.zh[k].trim(), `${k} is empty`);
    assert.deepEqual(ph(TRUST_DICTIONARY.zh[k]), ph(TRUST_DICTIONARY.en[k]), `${k} placeholders`);
    assert.match(TRUST_DICTIONARY.zh[k], /[\u4e00-\u9fff]/, `${k} is not Chinese`);
  }
  assert.equal(trustText('zh', 'trust.button'), '信任此服务器证书');
  assert.equal(trustText('en', 'trust.done', { subject: 'CN=x' }), 'Trusted: CN=x. The channel is connecting again.');
});
