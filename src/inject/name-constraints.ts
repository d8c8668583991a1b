// The X.509 name-constraints extension (RFC 5280 §4.2.1.10) of our CA, built and read with
// node-forge's ASN.1: permitted dNSName subtrees are the injected names; every IP address is
// excluded (why: a dNSName constraint says nothing about iPAddress names, so without the exclusion
// a leaf for any IP would still chain to our CA).

import forge from 'node-forge';

const { asn1 } = forge;
export const NAME_CONSTRAINTS_OID = '2.5.29.30';

// The DER bytes (a forge binary string) of NameConstraints for these DNS names.
export function nameConstraintsDer(dnsNames: readonly string[]): string {
  const subtree = (name: forge.asn1.Asn1) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [name]);
  const dns = (name: string) => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 2, false, name);
  const ip = (bytes: number) => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 7, false, '\0'.repeat(bytes * 2));
  const permitted = asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, dnsNames.map((n) => subtree(dns(n))));
  // 0.0.0.0/0 and ::/0: address and mask, all zero.
  const excluded = asn1.create(asn1.Class.CONTEXT_SPECIFIC, 1, true, [subtree(ip(4)), subtree(ip(16))]);
  return asn1.toDer(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [permitted, excluded])).getBytes();
}

// The permitted dNSName subtrees of a certificate's name constraints, sorted; undefined when it has none.
export function permittedDnsNames(cert: forge.pki.Certificate): string[] | undefined {
  // forge compares the OID string; its typings say number.
  const ext = cert.getExtension({ id: NAME_CONSTRAINTS_OID as unknown as number }) as { value?: string } | undefined;
  if (!ext?.value) return undefined;
  const root = asn1.fromDer(ext.value);
  const names: string[] = [];
  for (const part of root.value as forge.asn1.Asn1[]) {
    if (part.tagClass !== asn1.Class.CONTEXT_SPECIFIC || Number(part.type) !== 0) continue;
    for (const subtree of part.value as forge.asn1.Asn1[]) {
      const base = (subtree.value as forge.asn1.Asn1[])[0]!;
      if (base.tagClass === asn1.Class.CONTEXT_SPECIFIC && Number(base.type) === 2) names.push(base.value as string);
    }
  }
  return names.sort();
}
