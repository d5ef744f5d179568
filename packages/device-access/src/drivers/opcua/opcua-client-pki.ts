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
import type { CertificateInfo, OpcUaChannelConfig } from '@iip/core';
import { MessageSecurityMode, makeSubject, OPCUACertificateManager, OPCUAClient, SecurityPolicy } from 'node-opcua';

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

/** What an operator needs to recognise a certificate (DER, or a DER chain: the first one is the leaf). */
export function certificateInfo(der: Buffer): CertificateInfo {
  const x = new X509Certificate(firstOfChain(der));
  const uri = /URI:([^,\s]+)/.exec(x.subjectAltName ?? '')?.[1] ?? null;
  return {
    thumbprint: x.fingerprint.replace(/:/g, '').toUpperCase(),
    subject: x.subject.split('\n').join(', '),
    issuer: x.issuer.split('\n').join(', '),
    notBefore: new Date(x.validFrom).toISOString(),
    notAfter: new Date(x.validTo).toISOString(),
    applicationUri: uri,
    pem: x.toString(),
  };
}

/** The leaf certificate of a DER chain (OPC UA servers may send theirs followed by the issuers'). */
export function firstOfChain(der: Buffer): Buffer {
  // DER SEQUENCE: 0x30, then the length in short or long form
  if (der.length < 4 || der[0] !== 0x30) return der;
  const b1 = der[1] ?? 0;
  let len: number;
  let head: number;
  if (b1 < 0x80) {
    len = b1;
    head = 2;
  } else {
    const n = b1 & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (der[2 + i] ?? 0);
    head = 2 + n;
  }
  return head + len < der.length ? der.subarray(0, head + len) : der;
}

const POLICY_URIS: Readonly<Record<string, string>> = {
  None: SecurityPolicy.None,
  Basic256Sha256: SecurityPolicy.Basic256Sha256,
  Aes128_Sha256_RsaOaep: SecurityPolicy.Aes128_Sha256_RsaOaep,
};

/**
 * The server's application certificate as its endpoints announce it (GetEndpoints over a None channel, which
 * every server allows for discovery): the one matching the channel's security mode and policy, else any.
 */
export async function fetchServerCertificate(
  endpointUrl: string,
  pkiDir: string,
  mode: OpcUaChannelConfig['securityMode'],
  policy: OpcUaChannelConfig['securityPolicy'],
  applicationName: string,
): Promise<Buffer | null> {
  const cm = await openOpcUaPki(pkiDir, true);
  const client = OPCUAClient.create({
    applicationName,
    applicationUri: opcUaClientApplicationUri(applicationName),
    clientCertificateManager: cm,
    endpointMustExist: false,
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
  });
  try {
    await client.connect(endpointUrl);
    const endpoints = await client.getEndpoints();
    const wantedMode = mode === 'None' ? MessageSecurityMode.None : mode === 'Sign' ? MessageSecurityMode.Sign : MessageSecurityMode.SignAndEncrypt;
    const wantedPolicy = POLICY_URIS[policy ?? (mode === 'None' ? 'None' : 'Basic256Sha256')];
    const best =
      endpoints.find((e) => e.securityMode === wantedMode && e.securityPolicyUri === wantedPolicy && e.serverCertificate?.length) ??
      endpoints.find((e) => e.serverCertificate && e.serverCertificate.length > 0);
    return best?.serverCertificate ? Buffer.from(best.serverCertificate) : null;
  } finally {
    await client.disconnect().catch(() => undefined);
    await cm.dispose().catch(() => undefined);
  }
}
