// The CA of this install (node-forge): it signs the leaves the proxy shows the VM for injected
// names, and, through its name constraints, can vouch for nothing else. Leaves are issued on
// demand and cached; one leaf key serves them all (only the CA key is worth keeping).

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { NAME_CONSTRAINTS_OID, nameConstraintsDer } from './name-constraints.ts';

const { pki } = forge;

export interface Leaf {
  certPem: string;
  keyPem: string;
  /** When it stops being valid (ms since epoch). */
  notAfter: number;
}

export interface CertificateAuthority {
  certPem: string;
  /** The constraint names, sorted. */
  names: readonly string[];
  /** A leaf for `name`, cached; throws for a name outside the constraints (a caller's bug). */
  leafFor(name: string): Leaf;
}

const LEAF_DAYS = 30;
const CA_YEARS = 10;

// A new RSA key as PEM (Node's native generator: forge's own takes seconds).
export function newKeyPem(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

// A self-signed CA certificate for `keyPem`, constrained to `names`.
export function createCaCertificate(keyPem: string, names: readonly string[], label: string, now = new Date()): string {
  const key = pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const cert = pki.createCertificate();
  cert.publicKey = pki.rsa.setPublicKey(key.n, key.e);
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(now.getTime() - 3600_000);
  cert.validity.notAfter = new Date(now.getTime() + CA_YEARS * 365 * 86400_000);
  const subject = [{ name: 'commonName', value: `nanopolicy proxy CA ${label}` }, { name: 'organizationName', value: 'nanopolicy (this Mac only)' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    // pathlen 0: the CA signs leaves only, never another CA that might lack our constraints.
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
    // Critical: a client that cannot read the constraints must refuse the CA, not ignore them.
    { id: NAME_CONSTRAINTS_OID, critical: true, value: nameConstraintsDer(names) },
  ]);
  cert.sign(key, forge.md.sha256.create());
  return pki.certificateToPem(cert);
}

// A leaf for one DNS name, signed by the CA; it is up to the caller to ask only for listed names.
export function issueLeaf(caCertPem: string, caKeyPem: string, leafKeyPem: string, name: string, now = new Date()): Leaf {
  const caCert = pki.certificateFromPem(caCertPem);
  const caKey = pki.privateKeyFromPem(caKeyPem);
  const leafKey = pki.privateKeyFromPem(leafKeyPem) as forge.pki.rsa.PrivateKey;
  const cert = pki.createCertificate();
  cert.publicKey = pki.rsa.setPublicKey(leafKey.n, leafKey.e);
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(now.getTime() - 3600_000);
  cert.validity.notAfter = new Date(now.getTime() + LEAF_DAYS * 86400_000);
  cert.setSubject([{ name: 'commonName', value: name }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 2, value: name }] },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: pki.certificateToPem(cert), keyPem: leafKeyPem, notAfter: cert.validity.notAfter.getTime() };
}

// The CA in memory, issuing and caching leaves for its names only.
export function certificateAuthority(certPem: string, keyPem: string, names: readonly string[], clock: () => Date = () => new Date()): CertificateAuthority {
  const leafKeyPem = newKeyPem();
  const cache = new Map<string, Leaf>();
  const sorted = Object.freeze([...names].sort());
  return {
    certPem,
    names: sorted,
    leafFor(name) {
      if (!sorted.some((n) => name === n || name.endsWith(`.${n}`))) throw new Error(`no injected name covers "${name}"`);
      const now = clock();
      let leaf = cache.get(name);
      // Renewed a day before it ends, so no connection meets an expired leaf.
      if (!leaf || leaf.notAfter - now.getTime() < 86400_000) {
        leaf = issueLeaf(certPem, keyPem, leafKeyPem, name, now);
        cache.set(name, leaf);
      }
      return leaf;
    },
  };
}

// A serial number: 16 random bytes, positive.
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}
