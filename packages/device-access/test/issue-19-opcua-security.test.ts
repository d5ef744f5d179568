/**
 * Issue 19, points 4–7 at the driver: security mode Sign is honoured (today it is silently upgraded to
 * SignAndEncrypt, which a Sign-only server refuses); sessions act as a user (username/password, X.509 user
 * certificate) with the password in no log line and no error; a certificate-trust failure is reported in
 * health with the certificate concerned and can be fixed by trusting the rejected server certificate by
 * thumbprint; and every outage is kept with its start, end and reason. Real node-opcua servers throughout.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { ensureOpcUaClientCertificate, OpcUaDriver, trustOpcUaServerCertificate } from '@iip/device-access';
import { type OpcUaSimulatorServer, startOpcUaServer } from '@iip/simulator';
import { tempDir, waitFor } from '@iip/testkit';
import { makeSubject, OPCUACertificateManager } from 'node-opcua';

let dir: string;
let removeDir: () => Promise<void>;

before(async () => {
  const t = await tempDir('iip-opcua-sec-');
  dir = t.path;
  removeDir = t.cleanup;
});
after(() => removeDir?.());

/** A server and a client PKI that trust each other. */
async function pair(name: string, opts: Parameters<typeof startOpcUaServer>[0]): Promise<{ server: OpcUaSimulatorServer; clientPki: string }> {
  const server = await startOpcUaServer({ ...opts, pkiDir: `${dir}/${name}-server` });
  const clientPki = `${dir}/${name}-client`;
  const { certificate } = await ensureOpcUaClientCertificate(clientPki);
  await server.trustClientCertificate(certificate);
  await trustOpcUaServerCertificate(clientPki, server.serverCertificate());
  return { server, clientPki };
}

const thumbprintOf = (der: Buffer) => createHash('sha1').update(der).digest('hex').toUpperCase();

describe('security mode Sign', () => {
  let server: OpcUaSimulatorServer;
  let clientPki: string;
  before(async () => {
    ({ server, clientPki } = await pair('sign', { port: 0, devices: [{ id: 'em-1', product: 'energy-meter' }], securityModes: ['Sign'], paused: true }));
  });
  after(() => server?.close());

  test('a Sign channel connects to a server offering only Sign, and reads', async () => {
    const driver = new OpcUaDriver(server.channelConfig('Sign', { pkiDir: clientPki }), { connectAttempts: 1 });
    try {
      await driver.connect();
      server.set('em-1', 'voltage', 228.5);
      const r = await driver.readOnce('em-1');
      assert.equal(r.find((x) => x.property === 'voltage')?.value, 228.5);
    } finally {
      await driver.close();
    }
  });

  test('a SignAndEncrypt channel is not downgraded to Sign: the Sign-only server refuses it', async () => {
    const driver = new OpcUaDriver(server.channelConfig('SignAndEncrypt', { pkiDir: clientPki }), { connectAttempts: 1 });
    try {
      await assert.rejects(driver.connect(), (e: Error & { code?: string }) => e.code === 'IIP_ERR_OPCUA_STATUS' || e.code === 'IIP_ERR_DRIVER_CONNECT');
    } finally {
      await driver.close();
    }
  });

  test('Sign with security policy None is refused as a configuration error', () => {
    assert.throws(
      () => new OpcUaDriver({ ...server.channelConfig('Sign', { pkiDir: clientPki }), securityPolicy: 'None' }),
      (e: Error & { code?: string; details?: { path?: string } }) => e.code === 'IIP_ERR_DRIVER_CONFIG' && /securityPolicy$/.test(String(e.details?.path)),
    );
  });
});

describe('user identities', () => {
  let server: OpcUaSimulatorServer;
  let clientPki: string;
  const password = 'Tr0ub4dor&3-secret';
  before(async () => {
    ({ server, clientPki } = await pair('users', {
      port: 0,
      devices: [{ id: 'em-1', product: 'energy-meter' }],
      securityModes: ['None', 'SignAndEncrypt'],
      users: [{ username: 'operator', password }],
      allowAnonymous: false,
      paused: true,
    }));
  });
  after(() => server?.close());

  test('anonymous is refused by a server that requires a user, with a hint to configure identity', async () => {
    const driver = new OpcUaDriver(server.channelConfig('None', { pkiDir: clientPki }), { connectAttempts: 1 });
    try {
      await assert.rejects(driver.connect(), (e: Error & { code?: string }) => e.code === 'IIP_ERR_OPCUA_STATUS' && /identity/.test(e.message));
    } finally {
      await driver.close();
    }
  });

  test('username and password open a session as that user; the password is in no log line and no error', async () => {
    const logs: string[] = [];
    const log = (level: string, msg: string, fields?: object) => logs.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`);
    const wrong = new OpcUaDriver({ ...server.channelConfig('SignAndEncrypt', { pkiDir: clientPki }), identity: { type: 'username', username: 'operator', password: `${password}-wrong` } }, { connectAttempts: 1, log });
    let message = '';
    try {
      await assert.rejects(wrong.connect(), (e: Error & { code?: string; details?: object }) => {
        message = `${e.message} ${JSON.stringify(e.details)}`;
        return e.code === 'IIP_ERR_OPCUA_STATUS' && /user "operator"/.test(e.message) && /password/.test(e.message);
      });
      assert.ok(!message.includes(password), 'the error carries the password');
      assert.ok(!JSON.stringify(wrong.health()).includes(password), 'health carries the password');
    } finally {
      await wrong.close();
    }
    const driver = new OpcUaDriver({ ...server.channelConfig('SignAndEncrypt', { pkiDir: clientPki }), identity: { type: 'username', username: 'operator', password } }, { connectAttempts: 1, log });
    try {
      await driver.connect();
      assert.ok(server.sessionUsers().includes('operator'), `sessions: ${server.sessionUsers().join(', ')}`);
      server.set('em-1', 'voltage', 231);
      assert.equal((await driver.readOnce('em-1')).find((r) => r.property === 'voltage')?.value, 231);
    } finally {
      await driver.close();
    }
    assert.ok(logs.length > 0);
    assert.ok(!logs.some((l) => l.includes(password)), 'a log line carries the password');
  });

  test('an X.509 user certificate the server trusts opens a session; an untrusted one is refused', async () => {
    const userPki = `${dir}/user-identity`;
    const cm = new OPCUACertificateManager({ rootFolder: userPki });
    await cm.initialize();
    const certificateFile = `${userPki}/user.pem`;
    await cm.createSelfSignedCertificate({
      applicationUri: `urn:${hostname()}:iip:user:engineer`,
      subject: makeSubject('engineer', hostname()),
      outputFile: certificateFile,
      startDate: new Date(),
      validity: 365,
      dns: [],
    });
    await cm.dispose();
    const privateKeyFile = `${userPki}/own/private/private_key.pem`;
    const config = { ...server.channelConfig('SignAndEncrypt', { pkiDir: clientPki }), identity: { type: 'certificate' as const, certificateFile, privateKeyFile } };
    const untrusted = new OpcUaDriver(config, { connectAttempts: 1 });
    try {
      await assert.rejects(untrusted.connect(), (e: Error & { code?: string }) => e.code === 'IIP_ERR_OPCUA_STATUS' && /user certificate/.test(e.message));
    } finally {
      await untrusted.close();
    }
    const pem = await readFile(certificateFile, 'utf8');
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    await server.trustUserCertificate(der);
    const driver = new OpcUaDriver(config, { connectAttempts: 1 });
    try {
      await driver.connect();
      assert.ok(server.sessionUsers().includes('x509'), `sessions: ${server.sessionUsers().join(', ')}`);
    } finally {
      await driver.close();
    }
  });

  test('a certificate identity whose key file is missing is a configuration error naming the file', async () => {
    const driver = new OpcUaDriver(
      { ...server.channelConfig('SignAndEncrypt', { pkiDir: clientPki }), identity: { type: 'certificate', certificateFile: `${dir}/nope.pem`, privateKeyFile: `${dir}/nope.key` } },
      { connectAttempts: 1 },
    );
    await assert.rejects(driver.connect(), (e: Error & { code?: string; details?: { path?: string } }) => e.code === 'IIP_ERR_DRIVER_CONFIG' && /identity\.certificateFile$/.test(String(e.details?.path)));
    await driver.close();
  });
});

describe('certificate trust in health', () => {
  let server: OpcUaSimulatorServer;
  before(async () => {
    server = await startOpcUaServer({ port: 0, devices: [{ id: 'ac-1', product: 'air-compressor' }], securityModes: ['SignAndEncrypt'], pkiDir: `${dir}/trust-server`, paused: true });
  });
  after(() => server?.close());

  test('a rejected server certificate is reported with its thumbprint; trusting it by thumbprint lets the next connect through', async () => {
    const clientPki = `${dir}/trust-client`;
    const { certificate } = await ensureOpcUaClientCertificate(clientPki);
    await server.trustClientCertificate(certificate);
    const driver = new OpcUaDriver(server.channelConfig('SignAndEncrypt', { pkiDir: clientPki }), { connectAttempts: 1 });
    try {
      await assert.rejects(driver.connect(), (e: Error & { code?: string }) => e.code === 'IIP_ERR_OPCUA_STATUS');
      const trust = driver.health().trust;
      assert.equal(trust?.kind, 'server-untrusted');
      assert.equal(trust?.certificate.thumbprint, thumbprintOf(server.serverCertificate()));
      assert.match(trust?.certificate.pem ?? '', /BEGIN CERTIFICATE/);
      assert.match(trust?.fix ?? '', /trust-server-certificate/);
      await assert.rejects(driver.trustServerCertificate('00'.repeat(20)), (e: Error & { code?: string }) => e.code === 'IIP_ERR_OPCUA_TRUST_MISMATCH');
      const trusted = await driver.trustServerCertificate(trust?.certificate.thumbprint.toLowerCase() ?? '');
      assert.equal(trusted.thumbprint, thumbprintOf(server.serverCertificate()));
      await driver.connect();
      assert.equal(driver.health().trust, null);
      assert.equal(driver.health().connected, true);
      await assert.rejects(driver.trustServerCertificate(trusted.thumbprint), (e: Error & { code?: string }) => e.code === 'IIP_ERR_OPCUA_TRUST_MISMATCH', 'nothing is rejected any more');
    } finally {
      await driver.close();
    }
  });

  test('a client certificate the server refuses is reported with our certificate to hand to the server; the report ends once the channel is trusted', async () => {
    const clientPki = `${dir}/stranger-client`;
    const { certificate } = await ensureOpcUaClientCertificate(clientPki);
    await trustOpcUaServerCertificate(clientPki, server.serverCertificate());
    // A user the server does not know: once the certificates are trusted, the session is what fails.
    const driver = new OpcUaDriver({ ...server.channelConfig('SignAndEncrypt', { pkiDir: clientPki }), identity: { type: 'username', username: 'nobody', password: 'x' } }, { connectAttempts: 1 });
    try {
      await assert.rejects(driver.connect());
      const trust = driver.health().trust;
      assert.equal(trust?.kind, 'client-untrusted');
      assert.equal(trust?.certificate.thumbprint, thumbprintOf(certificate));
      assert.match(trust?.fix ?? '', /trusted certificates/);
      await server.trustClientCertificate(certificate);
      await assert.rejects(driver.connect(), (e: Error & { code?: string }) => e.code === 'IIP_ERR_OPCUA_STATUS' && /user "nobody"/.test(e.message));
      assert.equal(driver.health().trust, null, 'a stale certificate problem is still reported after the secure channel came up');
    } finally {
      await driver.close();
    }
  });
});

describe('outage history', () => {
  test('a failed first connect and a server restart are outages with start, end and reason', async () => {
    const server = await startOpcUaServer({ port: 0, devices: [{ id: 'em-1', product: 'energy-meter' }], paused: true });
    const pkiDir = `${dir}/outage-client`;
    const driver = new OpcUaDriver(server.channelConfig('None', { pkiDir }), { connectAttempts: 1 });
    try {
      await server.close();
      const t0 = Date.now();
      await assert.rejects(driver.connect(), (e: Error & { code?: string }) => e.code === 'IIP_ERR_DRIVER_CONNECT');
      const open = driver.health().outages ?? [];
      assert.equal(open.length, 1);
      assert.equal(open[0]?.end, null);
      assert.equal(open[0]?.code, 'IIP_ERR_DRIVER_CONNECT');
      assert.ok((open[0]?.start ?? 0) >= t0);
      // the same port again: the channel comes up and the outage ends
      const again = await startOpcUaServer({ port: server.port, devices: [{ id: 'em-1', product: 'energy-meter' }], paused: true });
      try {
        await driver.connect();
        await driver.subscribe(() => {});
        const closed = driver.health().outages ?? [];
        assert.equal(closed.length, 1);
        assert.ok((closed[0]?.end ?? 0) >= (closed[0]?.start ?? Number.POSITIVE_INFINITY));
        await again.restart();
        await waitFor(() => (driver.health().outages ?? []).length === 2 && driver.health().outages?.[1]?.end !== null, 'a second, ended outage after the restart', 30_000);
        const second = driver.health().outages?.[1];
        assert.equal(second?.code, 'IIP_ERR_DRIVER_CONNECT');
        assert.match(second?.message ?? '', /lost the connection/);
      } finally {
        await driver.close();
        await again.close();
      }
    } finally {
      await driver.close();
    }
  });
});
