// The CA's files in the state directory: its key (0600, the owner's, never replaced while it is
// sound, so the guest's trust survives restarts) and its certificate, re-issued with the same key
// only when the policy's injected names change.

import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';
import { createCaCertificate, newKeyPem } from './certificate-authority.ts';
import { permittedDnsNames } from './name-constraints.ts';

export const CA_KEY_FILE = 'proxy-ca-key.pem';
export const CA_CERT_FILE = 'proxy-ca.pem';

export interface StoredCa {
  certPem: string;
  keyPem: string;
  /** What changed on disk: a new key (the guest must trust the CA anew), a new certificate, or nothing. */
  made: 'key' | 'certificate' | 'nothing';
}

// Loads the CA from `dir`, making what is missing; throws a one-sentence error when the key file is
// not the owner's alone (it is never read then, and never silently replaced).
export function loadOrCreateCa(dir: string, names: readonly string[], label: string, ownerUid: number): StoredCa {
  const keyPath = join(dir, CA_KEY_FILE);
  const certPath = join(dir, CA_CERT_FILE);
  const sorted = [...names].sort();
  let keyPem = readOwnerOnly(keyPath, ownerUid);
  let made: StoredCa['made'] = 'nothing';
  if (keyPem === undefined) {
    keyPem = newKeyPem();
    writeNew(keyPath, keyPem, 0o600);
    made = 'key';
  }
  const existing = made === 'key' ? undefined : readIfPresent(certPath);
  if (existing !== undefined && certificateFits(existing, keyPem, sorted)) return { certPem: existing, keyPem, made };
  const certPem = createCaCertificate(keyPem, sorted, label);
  writeNew(certPath, certPem, 0o644);
  return { certPem, keyPem, made: made === 'key' ? 'key' : 'certificate' };
}

// Whether a stored certificate is this key's, names exactly these names, and has a year left.
function certificateFits(certPem: string, keyPem: string, names: readonly string[]): boolean {
  try {
    const cert = forge.pki.certificateFromPem(certPem);
    const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
    const pub = cert.publicKey as forge.pki.rsa.PublicKey;
    if (pub.n.compareTo(key.n) !== 0) return false;
    if (cert.validity.notAfter.getTime() - Date.now() < 365 * 86400_000) return false;
    return JSON.stringify(permittedDnsNames(cert)) === JSON.stringify(names);
  } catch {
    return false;
  }
}

// The key file's text, or undefined when absent; refuses a link, a non-file, another owner or any
// group/other permission bit.
function readOwnerOnly(path: string, ownerUid: number): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new Error(`The proxy CA key ${path} cannot be opened (${code === 'ELOOP' ? 'it is a symbolic link' : code}); remove it and run enforce again to make a new one.`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.uid !== ownerUid || (stat.mode & 0o077) !== 0) {
      throw new Error(`The proxy CA key ${path} is not a 0600 file of the owner's (mode ${(stat.mode & 0o777).toString(8)}, uid ${stat.uid}); someone else may have read it: remove it, run enforce to make a new CA, and trust the new proxy-ca.pem in the guest.`);
    }
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

function readIfPresent(path: string): string | undefined {
  try {
    if (!lstatSync(path).isFile()) return undefined;
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

// Writes a file through a fresh temporary name created with the final mode, then renames it into
// place (why: the key is never, even for a moment, readable by others, and never half-written).
function writeNew(path: string, text: string, mode: number): void {
  const temporary = `${path}.${process.pid}.tmp`;
  const fd = openSync(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}
