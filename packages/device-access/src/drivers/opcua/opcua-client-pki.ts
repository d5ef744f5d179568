/**
 * The OPC UA client's PKI folder: its own application certificate (created self-signed on first use,
 * in pure JavaScript — no openssl binary needed) and the server certificates it trusts. Layout is
 * node-opcua's: `own/certs/client_certificate.pem`, `own/private/private_key.pem`, `trusted/certs/`,
 * `rejected/`. Operators trust a server by copying its DER/PEM certificate into `trusted/certs/`.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { makeSubject, OPCUACertificateManager } from 'node-opcua';

/** The application URI this client presents; it must match the URI inside its certificate. */
export function opcUaClientApplicationUri(applicationName: string): string {
  return `urn:${hostname()}:iip:${applicationName}`;
}

/** Where node-opcua looks for the client's certificate inside a PKI folder. */
export function opcUaClientCertificateFile(pkiDir: string): string {
  return join(pkiDir, 'own', 'certs', 'client_certificate.pem');
}

/** Opens (creating when missing) the PKI folder; the caller disposes the manager. */
export async function openOpcUaPki(pkiDir: string, acceptUnknownPeers: boolean): Promise<OPCUACertificateManager> {
  const cm = new OPCUACertificateManager({ rootFolder: pkiDir, automaticallyAcceptUnknownCertificate: acceptUnknownPeers });
  await cm.initialize();
  return cm;
}

/**
 * Makes sure the client certificate exists (self-signed, 10 years, URI = opcUaClientApplicationUri) and
 * returns it in DER, so a test or an installer can hand it to the server to trust.
 */
export async function ensureOpcUaClientCertificate(pkiDir: string, applicationName = 'iip-edge'): Promise<{ certificateFile: string; certificate: Buffer }> {
  const certificateFile = opcUaClientCertificateFile(pkiDir);
  if (!existsSync(certificateFile)) {
    const cm = await openOpcUaPki(pkiDir, false);
    try {
      await cm.createSelfSignedCertificate({
        applicationUri: opcUaClientApplicationUri(applicationName),
        dns: [hostname()],
        outputFile: certificateFile,
        subject: makeSubject(applicationName, hostname()),
        startDate: new Date(),
        validity: 3650,
      });
    } finally {
      await cm.dispose();
    }
  }
  const certificate = Buffer.from(new X509Certificate(await readFile(certificateFile)).raw);
  return { certificateFile, certificate };
}

/** Adds a server certificate (DER) to the client's trusted list. */
export async function trustOpcUaServerCertificate(pkiDir: string, certificate: Buffer): Promise<void> {
  const cm = await openOpcUaPki(pkiDir, false);
  try {
    await cm.trustCertificate(certificate);
  } finally {
    await cm.dispose();
  }
}
