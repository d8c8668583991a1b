// The trial leaves verify signs without node-forge: every one parses, is signed by the CA's key and
// names its issuer as the CA (many runs, since serials are random and DER is strict about them).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateCa } from '../../../src/inject/ca-store.ts';
import { signTrialLeaf } from '../../../src/verify/host/x509-der.ts';

test('200 trial leaves: each parses, chains to the CA, and carries the name', () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-x509-'));
  try {
    const ca = loadOrCreateCa(dir, ['api.example.test'], 'unit', process.getuid!());
    const caCert = new X509Certificate(readFileSync(join(dir, 'proxy-ca.pem')));
    for (let i = 0; i < 200; i++) {
      const name = `n${i}.example.test`;
      const leaf = new X509Certificate(signTrialLeaf(ca.certPem, ca.keyPem, name).certPem);
      assert.ok(leaf.verify(caCert.publicKey), `leaf ${i} is not signed by the CA`);
      assert.ok(leaf.checkIssued(caCert), `leaf ${i} does not name the CA as issuer`);
      assert.is(leaf.checkHost(name), name);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
