/**
 * The node's server key: the RSA key pair it certifies replies with, and whose public half it publishes in
 * each server of its HS_SITE so clients can check those signatures. Generated on first start and kept in
 * the data directory in Handle.Net's own files — `privkey.bin` (the key file format of its tools,
 * unencrypted, mode 0600) and `pubkey.bin` (the public key encoding) — so a Handle.Net server's key
 * directory and ours are interchangeable; reused on every later start.
 */
import { type KeyObject, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HandleError } from '../model/handle-error.js';
import { ResponseCode } from '../model/response-codes.js';
import { decodePrivateKeyFile, encodePrivateKeyFile, encodePublicKey } from '../protocol/public-key-codec.js';

export const SERVER_PRIVATE_KEY_FILE = 'privkey.bin';
export const SERVER_PUBLIC_KEY_FILE = 'pubkey.bin';

export interface ServerKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The public key in the Handle encoding, as HS_SITE carries it. */
  readonly publicKeyBytes: Uint8Array;
}

export function serverKeyFrom(privateKey: KeyObject): ServerKey {
  if (privateKey.type !== 'private' || (privateKey.asymmetricKeyType !== 'rsa' && privateKey.asymmetricKeyType !== 'dsa')) {
    throw new HandleError(ResponseCode.INVALID_VALUE, `A server key must be an RSA or DSA private key, not a ${privateKey.asymmetricKeyType ?? 'secret'} ${privateKey.type} key.`);
  }
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, publicKeyBytes: encodePublicKey(publicKey) };
}

function writePrivate(file: string, bytes: Uint8Array): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes, { mode: 0o600, flag: 'wx' });
  renameSync(tmp, file);
}

/**
 * The key pair in `dataDir`, created (RSA-2048) when there is none. `log` hears about a new key and about a
 * private key file others may read (its mode is then narrowed to 0600).
 */
export function loadOrCreateServerKey(dataDir: string, log: (line: string) => void = () => {}): ServerKey {
  const privFile = join(dataDir, SERVER_PRIVATE_KEY_FILE);
  const pubFile = join(dataDir, SERVER_PUBLIC_KEY_FILE);
  if (existsSync(privFile)) {
    if ((statSync(privFile).mode & 0o077) !== 0) {
      chmodSync(privFile, 0o600);
      log(`server key: ${privFile} was readable by others; its mode is now 0600`);
    }
    let key: ServerKey;
    try {
      key = serverKeyFrom(decodePrivateKeyFile(readFileSync(privFile)));
    } catch (e) {
      throw new HandleError(
        ResponseCode.ERROR,
        `The server key ${privFile} cannot be read (${e instanceof Error ? e.message : String(e)}); pass the key as the serverKey option, or move the file away to have a new key made (clients that kept the old public key will then refuse certified replies until they fetch the site info again).`,
      );
    }
    // pubkey.bin is derived data: rewrite it when it is missing or does not match.
    const current = existsSync(pubFile) ? new Uint8Array(readFileSync(pubFile)) : undefined;
    if (!current || Buffer.compare(current, key.publicKeyBytes) !== 0) writeFileSync(pubFile, key.publicKeyBytes, { mode: 0o644 });
    return key;
  }
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = serverKeyFrom(privateKey);
  writePrivate(privFile, encodePrivateKeyFile(privateKey));
  writeFileSync(pubFile, key.publicKeyBytes, { mode: 0o644 });
  log(`server key: new RSA-2048 key in ${privFile} (public key in ${pubFile})`);
  return key;
}
