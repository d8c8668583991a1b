// A throwaway certificate authority per lab (node-forge), issuing leaf certificates for lab names
// and addresses, so a verifier can trust the CA or pin a leaf's public key.

import { createHash, createPublicKey } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';
import { assertLabAddress } from './address-plan.ts';

export interface LeafCert {
  certPem: string;
  keyPem: string;
  /** base64 SHA-256 of the DER SubjectPublicKeyInfo: what an HPKP-style pin compares. */
  spkiSha256: string;
  names: string[];
  ips: string[];
}

export interface LabCa {
  certPem: string;
  /** freshKey: a key of its own instead of the lab's shared leaf key (for "wrong pin" cases). */
  issue(opts: { names?: string[]; ips?: string[]; freshKey?: boolean }): LeafCert;
}

// base64 SHA-256 of a certificate's SubjectPublicKeyInfo.
export function spkiSha256(certPem: string): string {
  const der = createPublicKey(certPem).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

// RSA keys are the slow part (~0.15 s each even with Node's native generator, which forge uses),
// so the CA key and the shared leaf key are made once per process. Certificates are still new per
// lab, and each lab's CA has its own name, so one lab's leaves never chain to another lab's CA.
let processKeys: { ca: forge.pki.rsa.KeyPair; leaf: forge.pki.rsa.KeyPair } | undefined;

// Makes a new CA named for `label` (the lab id).
export function createLabCa(label: string): LabCa {
  processKeys ??= { ca: forge.pki.rsa.generateKeyPair({ bits: 2048 }), leaf: forge.pki.rsa.generateKeyPair({ bits: 2048 }) };
  const caKeys = processKeys.ca;
  const caCert = forge.pki.createCertificate();
  const subject = [
    { name: 'commonName', value: `nanopolicy lab CA ${label}` },
    { name: 'organizationName', value: 'nanopolicy test lab' },
  ];
  caCert.publicKey = caKeys.publicKey;
  caCert.serialNumber = serial();
  setValidity(caCert);
  caCert.setSubject(subject);
  caCert.setIssuer(subject);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  caCert.sign(caKeys.privateKey, forge.md.sha256.create());
  const caKeyId = caCert.generateSubjectKeyIdentifier().getBytes();
  // One key for all leaves keeps issuing fast; a leaf that must not share a pin with the others
  // asks for freshKey.
  const leafKeys = processKeys.leaf;

  return {
    certPem: forge.pki.certificateToPem(caCert),
    issue({ names = [], ips = [], freshKey = false }) {
      for (const ip of ips) assertLabAddress(ip, 'certificate IP');
      for (const name of names) if (isIP(name) !== 0) throw new Error(`Put IP "${name}" in ips, not names.`);
      if (names.length + ips.length === 0) throw new Error('A leaf certificate needs at least one name or IP.');
      const keys = freshKey ? forge.pki.rsa.generateKeyPair({ bits: 2048 }) : leafKeys;
      const cert = forge.pki.createCertificate();
      cert.publicKey = keys.publicKey;
      cert.serialNumber = serial();
      setValidity(cert);
      cert.setSubject([{ name: 'commonName', value: names[0] ?? ips[0] ?? 'lab' }]);
      cert.setIssuer(caCert.subject.attributes);
      cert.setExtensions([
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [...names.map((value) => ({ type: 2, value })), ...ips.map((ip) => ({ type: 7, ip }))] },
        { name: 'subjectKeyIdentifier' },
        { name: 'authorityKeyIdentifier', keyIdentifier: caKeyId },
      ]);
      cert.sign(caKeys.privateKey, forge.md.sha256.create());
      const certPem = forge.pki.certificateToPem(cert);
      return { certPem, keyPem: forge.pki.privateKeyToPem(keys.privateKey), spkiSha256: spkiSha256(certPem), names, ips };
    },
  };
}

// A random positive certificate serial number (hex).
function serial(): string {
  // Positive: a leading 0x01 byte keeps the DER integer from reading as negative.
  return `01${forge.util.bytesToHex(forge.random.getBytesSync(15))}`;
}

// Valid from an hour ago (clock skew) for one day: a lab never lives longer.
function setValidity(cert: forge.pki.Certificate): void {
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(now + 24 * 60 * 60 * 1000);
}
