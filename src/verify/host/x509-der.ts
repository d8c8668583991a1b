// Just enough X.509 DER for verify's CA checks, with Node's crypto and no node-forge (the CLI bundle
// carries no forge; the proxy's does): read a certificate's permitted dNSName constraints, and
// sign a throwaway leaf for one name with the CA's key to see whether Node's TLS trusts it.

import { createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';

interface Node {
  tag: number;
  /** The whole element (tag, length, content). */
  raw: Buffer;
  content: Buffer;
}

// The DER elements in `buf`, one level.
function children(buf: Buffer): Node[] {
  const out: Node[] = [];
  let i = 0;
  while (i < buf.length) {
    const tag = buf[i]!;
    let len = buf[i + 1]!;
    let head = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 4) throw new Error('unsupported DER length');
      len = 0;
      for (let k = 0; k < n; k++) len = len * 256 + buf[i + 2 + k]!;
      head += n;
    }
    if (i + head + len > buf.length) throw new Error('truncated DER');
    out.push({ tag, raw: buf.subarray(i, i + head + len), content: buf.subarray(i + head, i + head + len) });
    i += head + len;
  }
  return out;
}

const NAME_CONSTRAINTS_OID = Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x1e]); // 2.5.29.30

// The TBSCertificate's elements of a PEM certificate.
function tbsOf(certPem: string): Node[] {
  const der = new X509Certificate(certPem).raw;
  const cert = children(der)[0]!;
  return children(children(cert.content)[0]!.content);
}

// The permitted dNSName subtrees, sorted; undefined when the certificate has no name constraints.
export function permittedNames(certPem: string): string[] | undefined {
  const ext = tbsOf(certPem).find((n) => n.tag === 0xa3);
  if (!ext) return undefined;
  for (const e of children(children(ext.content)[0]!.content)) {
    const parts = children(e.content);
    if (!parts[0]!.raw.equals(NAME_CONSTRAINTS_OID)) continue;
    const value = parts[parts.length - 1]!; // OCTET STRING (after an optional critical flag)
    const names: string[] = [];
    for (const part of children(children(value.content)[0]!.content)) {
      if (part.tag !== 0xa0) continue; // permittedSubtrees [0]
      for (const subtree of children(part.content)) {
        const base = children(subtree.content)[0];
        if (base?.tag === 0x82) names.push(base.content.toString('latin1')); // dNSName [2]
      }
    }
    return names.sort();
  }
  return undefined;
}

function der(tag: number, ...parts: Buffer[]): Buffer {
  const content = Buffer.concat(parts);
  const n = content.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : n < 0x10000 ? Buffer.from([0x82, n >> 8, n & 0xff]) : Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, content]);
}

function utcTime(d: Date): Buffer {
  const s = d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
  return der(0x17, Buffer.from(s, 'latin1'));
}

// sha256WithRSAEncryption (the CA key is RSA) and ecdsa-with-SHA256.
const SHA256_RSA = der(0x30, der(0x06, Buffer.from([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b])), Buffer.from([0x05, 0x00]));
const SHA256_ECDSA = der(0x30, der(0x06, Buffer.from([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02])));

// A one-hour leaf for `name`, issued by the CA (its subject as issuer), signed with the CA's key.
export function signTrialLeaf(caCertPem: string, caKeyPem: string, name: string): { certPem: string; keyPem: string } {
  const caTbs = tbsOf(caCertPem);
  // version [0], serial, signature, issuer, validity, subject: the CA's subject is element 5.
  const issuer = caTbs[5]!.raw;
  const caKey = createPrivateKey(caKeyPem);
  const leaf = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const now = Date.now();
  const subject = der(0x30, der(0x31, der(0x30, der(0x06, Buffer.from([0x55, 0x04, 0x03])), der(0x0c, Buffer.from(name, 'utf8')))));
  const san = der(0x30, der(0x06, Buffer.from([0x55, 0x1d, 0x11])), der(0x04, der(0x30, der(0x82, Buffer.from(name, 'latin1')))));
  const serial = randomBytes(12);
  // Positive and minimally encoded: a first byte of 0 (or ≥ 0x80) makes a DER INTEGER OpenSSL refuses.
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  const algorithm = caKey.asymmetricKeyType === 'ec' ? SHA256_ECDSA : SHA256_RSA;
  const tbs = der(
    0x30,
    der(0xa0, der(0x02, Buffer.from([0x02]))),
    der(0x02, serial),
    algorithm,
    issuer,
    der(0x30, utcTime(new Date(now - 600_000)), utcTime(new Date(now + 3600_000))),
    subject,
    leaf.publicKey.export({ type: 'spki', format: 'der' }),
    der(0xa3, der(0x30, san)),
  );
  const signature = sign('sha256', tbs, caKey);
  const cert = der(0x30, tbs, algorithm, der(0x03, Buffer.from([0x00]), signature));
  const b64 = cert.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return { certPem: `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`, keyPem: leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}
