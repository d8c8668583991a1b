// A pin belongs to a TLS bridge and is a base64 SHA-256 of the server's public key (32 bytes).

import { errorAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { bridges, findOption, type CheckContext } from '../check-context.ts';

export function checkPins({ ast }: CheckContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const bridge of bridges(ast)) {
    const pin = findOption(bridge, 'pin')?.value;
    if (!pin) continue;
    if (!findOption(bridge, 'tls')) {
      out.push(
        errorAt(ast.file, pin.span, {
          code: 'NP224',
          message: `The bridge "${bridge.name.value}" pins a certificate key but is not marked "tls".`,
          hint: 'Add "tls" to the line, or drop the pin.',
        }),
      );
    }
    const base64 = pin.value.slice('sha256/'.length);
    if (!/^[A-Za-z0-9+/]{43}=$/.test(base64) || Buffer.from(base64, 'base64').length !== 32) {
      out.push(
        errorAt(ast.file, pin.span, {
          code: 'NP225',
          message: `The pin "${pin.value}" is not a base64 SHA-256 hash (44 characters ending in "=").`,
          hint: 'Compute it with: openssl x509 -in cert.pem -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64',
        }),
      );
    } else if (Buffer.from(base64, 'base64').toString('base64') !== base64) {
      // The last character carries two bits the decoder drops: "…A=" and "…B=" are the same key
      // written twice, and a pin must compare as text (verify, other tools) as well as bytes.
      out.push(
        errorAt(ast.file, pin.span, {
          code: 'NP226',
          message: `The pin "${pin.value}" is not canonical base64: its last character holds bits no SHA-256 has.`,
          hint: `Write the pin as base64 prints it: "sha256/${Buffer.from(base64, 'base64').toString('base64')}".`,
        }),
      );
    }
  }
  return out;
}
