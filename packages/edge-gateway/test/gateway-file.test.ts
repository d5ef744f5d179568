/**
 * gateway.yaml: the shipped example parses, units are understood, and every mistake is an IipError that
 * names the field.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isIipError } from '@iip/core';
import { gatewayOptionsFromFile, loadGatewayFile, parseGatewayFile } from '@iip/edge-gateway';
import { tempDir } from '@iip/testkit';

const EXAMPLE = fileURLToPath(new URL('../gateway.example.yaml', import.meta.url));

const MINIMAL = `
platform: { mqttUrl: "mqtt://localhost:11883", tenant: default, gatewayId: gw1, secret: s3cret }
dataDir: /var/lib/iip-edge
`;

function failsWith(text: string, code: string, field?: string): void {
  assert.throws(
    () => parseGatewayFile(text, '/etc/iip/gateway.yaml'),
    (e: unknown) => {
      assert.ok(isIipError(e), String(e));
      assert.equal(e.code, code);
      if (field) {
        assert.equal(e.details.field, field);
        assert.ok(e.message.includes(field), `message names ${field}: ${e.message}`);
      }
      return true;
    },
  );
}

test('the shipped example parses into gateway options', () => {
  const f = loadGatewayFile(EXAMPLE);
  assert.equal(f.platform.gatewayId, 'line-1-gateway');
  assert.equal(f.buffer.maxBytes, 512 * 1024 * 1024);
  assert.equal(f.buffer.maxAgeMs, 7 * 86_400_000);
  assert.equal(f.drain.maxPointsPerSec, 100_000);
  assert.equal(f.stateIntervalMs, 10_000);
  assert.ok(f.dataDir.endsWith(join('edge-gateway', 'data', 'edge')), f.dataDir);
  assert.equal(f.initialConfig?.version, 0);
  assert.deepEqual(
    f.initialConfig?.config.channels.map((c) => c.protocol),
    ['modbus-tcp', 'opcua'],
  );
  assert.equal(f.initialConfig?.config.rules?.[0]?.threshold, 90);
  const o = gatewayOptionsFromFile(f);
  assert.equal(o.platform.secret, 'change-me');
});

test('defaults apply and there is no initial configuration without channels', () => {
  const f = parseGatewayFile(MINIMAL, '/etc/iip/gateway.yaml');
  assert.equal(f.dataDir, '/var/lib/iip-edge');
  assert.equal(f.buffer.maxBytes, 512 * 1024 * 1024);
  assert.equal(f.initialConfig, undefined);
  assert.equal(parseGatewayFile(`${MINIMAL}drain: { maxPointsPerSec: unlimited }\n`, 'g.yaml').drain.maxPointsPerSec, Number.POSITIVE_INFINITY);
  assert.equal(parseGatewayFile(`${MINIMAL}buffer: { maxBytes: 2 GiB, maxAge: 36h }\n`, 'g.yaml').buffer.maxAgeMs, 36 * 3_600_000);
});

test('mistakes name the field', async () => {
  failsWith('platform: [unclosed', 'IIP_ERR_EDGE_CONFIG_FILE');
  failsWith('dataDir: x\n', 'IIP_ERR_EDGE_CONFIG_INVALID', 'platform');
  failsWith(MINIMAL.replace('secret: s3cret', 'secret: ""'), 'IIP_ERR_EDGE_CONFIG_INVALID', 'platform.secret');
  failsWith(MINIMAL.replace('mqtt://localhost:11883', 'localhost:11883'), 'IIP_ERR_EDGE_CONFIG_INVALID', 'platform.mqttUrl');
  failsWith(MINIMAL.replace('dataDir: /var/lib/iip-edge', ''), 'IIP_ERR_EDGE_CONFIG_INVALID', 'dataDir');
  failsWith(`${MINIMAL}buffer: { maxBytes: lots }\n`, 'IIP_ERR_EDGE_CONFIG_INVALID', 'buffer.maxBytes');
  failsWith(`${MINIMAL}buffer: { maxAge: -1 }\n`, 'IIP_ERR_EDGE_CONFIG_INVALID', 'buffer.maxAge');
  failsWith(`${MINIMAL}drain: { maxPointsPerSec: 0 }\n`, 'IIP_ERR_EDGE_CONFIG_INVALID', 'drain.maxPointsPerSec');
  failsWith(`${MINIMAL}channels: [{ id: a, protocol: s7, devices: [] }]\n`, 'IIP_ERR_EDGE_CONFIG_INVALID', 'channels[0].protocol');
  failsWith(`${MINIMAL}channels: [{ id: a, protocol: opcua, devices: [{}] }]\n`, 'IIP_ERR_EDGE_CONFIG_INVALID', 'channels[0].devices[0].id');
  failsWith(`${MINIMAL}channels: [{ id: a, protocol: opcua, devices: [] }, { id: a, protocol: opcua, devices: [] }]\n`, 'IIP_ERR_EDGE_CONFIG_INVALID', 'channels[1].id');
  failsWith(`${MINIMAL}rules: [{ id: r, device: d, property: p, op: "!=", threshold: 1, severity: warn }]\n`, 'IIP_ERR_EDGE_CONFIG_INVALID', 'rules[0].op');
  failsWith(`${MINIMAL}rules: [{ id: r, device: d, property: p, op: ">", threshold: hot, severity: warn }]\n`, 'IIP_ERR_EDGE_CONFIG_INVALID', 'rules[0].threshold');

  const dir = await tempDir('iip-edge-file-');
  try {
    assert.throws(() => loadGatewayFile(join(dir.path, 'missing.yaml')), (e: unknown) => isIipError(e) && e.code === 'IIP_ERR_EDGE_CONFIG_FILE');
    const p = join(dir.path, 'gateway.yaml');
    writeFileSync(p, MINIMAL.replace('/var/lib/iip-edge', 'state'));
    assert.equal(loadGatewayFile(p).dataDir, join(dir.path, 'state'));
  } finally {
    await dir.cleanup();
  }
});
