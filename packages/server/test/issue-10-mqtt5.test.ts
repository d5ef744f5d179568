/**
 * Issue 10, point 8: devices and gateways that speak MQTT 5 connect to the platform through iip's own front
 * door (ADR 0005, `mqttServer: 'iip'`), with outside clients — Debian's `mosquitto_pub -V mqttv5`, mqtt.js
 * speaking 5, and paho-mqtt (python3-paho-mqtt) speaking 5 — and MQTT 3.1.1 clients keep working on the same
 * port. Under MQTT 5 a refused reading is refused in its PUBACK (reason code and the IIP_ERR_* code in the
 * reason string), besides the errors topic.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { run, waitFor } from '@iip/testkit';
import mqtt from 'mqtt';
import { type TestPlatform, startTestPlatform } from './fixture.js';

let tp: TestPlatform;
let port: number;
const secrets: Record<string, string> = {};

before(async () => {
  tp = await startTestPlatform({ mqttServer: 'iip' });
  port = tp.platform.mqttPort;
  for (const id of ['v5a', 'v5b', 'v5c', 'v4a']) secrets[id] = await tp.createDevice(id);
});
after(async () => {
  await tp?.close();
});

async function history(device: string, prop: string): Promise<Array<{ ts: number; value: unknown }>> {
  const r = await tp.api<{ points: Array<{ ts: number; value: unknown }> }>('GET', `/api/v1/devices/${device}/properties/${prop}/history?from=946684800000&to=${Date.now() + 600_000}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.points;
}

const stored = (device: string, prop: string, n = 1) =>
  waitFor(async () => {
    const p = await history(device, prop);
    return p.length >= n ? p : undefined;
  }, `${n} point(s) of ${device}.${prop}`);

describe('MQTT 5 devices on the platform (front door: iip)', () => {
  test('mosquitto_pub -V mqttv5 publishes a reading at QoS 1 that the history API returns', async () => {
    const ts = Date.now() - 1000;
    const r = await run('mosquitto_pub', ['-V', 'mqttv5', '-h', '127.0.0.1', '-p', String(port), '-q', '1', '-i', 'default/v5a', '-u', 'default/v5a', '-P', secrets.v5a as string, '-t', 'iip/default/v5a/telemetry', '-m', JSON.stringify({ ts, values: { temperature: 20.5 } })]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await stored('v5a', 'temperature'), [{ ts, value: 20.5 }]);
  });

  test('mqtt.js speaking 5: a refused reading gets PUBACK 0x99 with its IIP_ERR_* code, and the errors topic says it too', async () => {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, clientId: 'default/v5b', username: 'default/v5b', password: secrets.v5b, reconnectPeriod: 0 });
    try {
      const errors: string[] = [];
      c.on('message', (_t, p) => errors.push(p.toString()));
      await c.subscribeAsync('iip/default/v5b/errors', { qos: 0 });
      await c.publishAsync('iip/default/v5b/telemetry', JSON.stringify({ values: { temperature: 21 } }), { qos: 1 });
      await stored('v5b', 'temperature');
      const refused = await c.publishAsync('iip/default/v5b/telemetry', JSON.stringify({ values: { temperature: 999 } }), { qos: 1 }).then(
        () => undefined,
        (e: Error & { code?: number }) => e,
      );
      assert.ok(refused, 'the PUBACK refused the reading');
      assert.equal(refused.code, 0x99, String(refused));
      await waitFor(() => (errors.length > 0 ? errors : undefined), 'the errors topic');
      const body = JSON.parse(errors[0] as string) as { code: string };
      assert.match(body.code, /^IIP_ERR_TELEMETRY_/);
      assert.equal((await history('v5b', 'temperature')).length, 1, 'nothing of the refused reading is stored');
      // A publish outside the device's own topics: PUBACK 0x87 (not authorized), nothing stored.
      const denied = await c.publishAsync('iip/default/v5a/telemetry', JSON.stringify({ values: { temperature: 1 } }), { qos: 1 }).then(
        () => undefined,
        (e: Error & { code?: number }) => e,
      );
      assert.equal(denied?.code, 0x87);
      // A topic alias: the topic once, then only the alias (an empty topic name, valid under MQTT 5).
      await c.publishAsync('iip/default/v5b/telemetry', JSON.stringify({ values: { temperature: 23 } }), { qos: 1, properties: { topicAlias: 1 } });
      await c.publishAsync('', JSON.stringify({ values: { temperature: 24 } }), { qos: 1, properties: { topicAlias: 1 } });
      assert.deepEqual(
        (await stored('v5b', 'temperature', 3)).map((p) => p.value),
        [21, 23, 24],
      );
    } finally {
      await c.endAsync();
    }
  });

  test('paho-mqtt speaking MQTT 5 (python3-paho-mqtt) connects with a session expiry and publishes', async () => {
    const ts = Date.now() - 2000;
    const script = `
import json, sys, time
import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes
c = mqtt.Client(client_id="default/v5c", protocol=mqtt.MQTTv5)
c.username_pw_set("default/v5c", sys.argv[2])
props = Properties(PacketTypes.CONNECT)
props.SessionExpiryInterval = 30
result = {}
def on_connect(client, userdata, flags, rc, properties=None):
    result["rc"] = rc.value if hasattr(rc, "value") else rc
    result["topicAliasMaximum"] = getattr(properties, "TopicAliasMaximum", None)
c.on_connect = on_connect
c.connect("127.0.0.1", int(sys.argv[1]), properties=props)
c.loop_start()
for _ in range(100):
    if "rc" in result: break
    time.sleep(0.05)
info = c.publish("iip/default/v5c/telemetry", json.dumps({"ts": int(sys.argv[3]), "values": {"temperature": 22.5}}), qos=1)
info.wait_for_publish(5)
result["published"] = info.is_published()
c.disconnect(); c.loop_stop()
print(json.dumps(result))
`;
    const r = await run('/usr/bin/python3', ['-c', script, String(port), secrets.v5c as string, String(ts)]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { rc: number; topicAliasMaximum: number; published: boolean };
    assert.equal(out.rc, 0);
    assert.ok(out.topicAliasMaximum > 0, 'the CONNACK announced topic aliases');
    assert.equal(out.published, true);
    assert.deepEqual(await stored('v5c', 'temperature'), [{ ts, value: 22.5 }]);
  });

  test('an MQTT 3.1.1 device keeps working on the same port', async () => {
    const ts = Date.now() - 3000;
    const r = await run('mosquitto_pub', ['-V', 'mqttv311', '-h', '127.0.0.1', '-p', String(port), '-q', '1', '-i', 'default/v4a', '-u', 'default/v4a', '-P', secrets.v4a as string, '-t', 'iip/default/v4a/telemetry', '-m', JSON.stringify({ ts, values: { temperature: 19.5 } })]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await stored('v4a', 'temperature'), [{ ts, value: 19.5 }]);
  });
});
