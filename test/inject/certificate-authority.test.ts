// Our CA: its name constraints hold under OpenSSL (`openssl verify`) and Node's TLS, so a leaf it
// signed for a name the policy does not inject is not trusted; its key file is 0600 and stable.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { certificateAuthority, createCaCertificate, issueLeaf, newKeyPem } from '../../src/inject/certificate-authority.ts';
import { permittedDnsNames } from '../../src/inject/name-constraints.ts';
import { CA_CERT_FILE, CA_KEY_FILE, loadOrCreateCa } from '../../src/inject/ca-store.ts';
import { injectedCaNames } from '../../src/compiler/emit/ca-names.ts';

const dir = mkdtempSync(join(tmpdir(), 'np-ca-'));
const NAMES = ['api.lab.test', 'gw.lab.test'];
const caKey = newKeyPem();
const caCert = createCaCertificate(caKey, NAMES, 'test');
const leafKey = newKeyPem();
writeFileSync(join(dir, 'ca.pem'), caCert);

// `openssl verify` of a leaf against our CA alone: exit status and output.
function opensslVerify(leafPem: string, name: string): { ok: boolean; output: string } {
  const leafPath = join(dir, `${name}.pem`);
  writeFileSync(leafPath, leafPem);
  const r = spawnSync('openssl', ['verify', '-x509_strict', '-CAfile', join(dir, 'ca.pem'), leafPath], { encoding: 'utf8' });
  if (r.error) throw r.error;
  return { ok: r.status === 0, output: r.stdout + r.stderr };
}

test('the constraints name exactly the injected names, and are critical', () => {
  const cert = forge.pki.certificateFromPem(caCert);
  assert.equal(permittedDnsNames(cert), NAMES);
  const ext = cert.extensions.find((e: { id?: string }) => e.id === '2.5.29.30') as { critical?: boolean };
  assert.ok(ext?.critical);
  const text = spawnSync('openssl', ['x509', '-noout', '-text', '-in', join(dir, 'ca.pem')], { encoding: 'utf8' }).stdout;
  assert.match(text, /X509v3 Name Constraints: critical/);
  assert.match(text, /Permitted:\s+DNS:api\.lab\.test\s+DNS:gw\.lab\.test/);
  assert.match(text, /Excluded:\s+IP:0\.0\.0\.0\/0\.0\.0\.0\s+IP:0:0:0:0:0:0:0:0\/0:0:0:0:0:0:0:0/);
});

test('openssl verify: a leaf for a listed name (or a name below it) passes; an unlisted one is a subtree violation', () => {
  assert.ok(opensslVerify(issueLeaf(caCert, caKey, leafKey, 'api.lab.test').certPem, 'listed').ok);
  assert.ok(opensslVerify(issueLeaf(caCert, caKey, leafKey, 'eu.gw.lab.test').certPem, 'below').ok);
  for (const name of ['evil.test', 'api.lab.test.evil.test', 'lab.test', 'xapi.lab.test']) {
    const r = opensslVerify(issueLeaf(caCert, caKey, leafKey, name).certPem, name);
    assert.not.ok(r.ok, name);
    assert.match(r.output, /permitted subtree violation/, name);
  }
});

// Serves one leaf on loopback; resolves with the TLS client's verdict for `servername`.
async function nodeVerdict(leafPem: string, servername: string): Promise<string> {
  const server: Server = createServer({ cert: leafPem, key: leafKey }, (socket) => socket.end('hi'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    return await new Promise<string>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, servername, ca: [caCert] }, () => {
        socket.end();
        resolve('trusted');
      });
      socket.on('error', (error: NodeJS.ErrnoException) => resolve(`${error.code}: ${error.message}`));
    });
  } finally {
    server.close();
  }
}

test("Node's TLS: a leaf for a listed name is trusted; our CA's leaf for an unlisted name is refused", async () => {
  assert.is(await nodeVerdict(issueLeaf(caCert, caKey, leafKey, 'api.lab.test').certPem, 'api.lab.test'), 'trusted');
  const verdict = await nodeVerdict(issueLeaf(caCert, caKey, leafKey, 'other.test').certPem, 'other.test');
  assert.match(verdict, /permitted subtree violation/);
});

test('leafFor issues only covered names, and caches each leaf', () => {
  const ca = certificateAuthority(caCert, caKey, NAMES);
  const a = ca.leafFor('api.lab.test');
  assert.is(ca.leafFor('api.lab.test'), a);
  assert.ok(ca.leafFor('x.gw.lab.test'));
  assert.throws(() => ca.leafFor('other.test'), /no injected name covers "other.test"/);
  assert.throws(() => ca.leafFor('xgw.lab.test'), /no injected name covers/);
});

test('injectedCaNames: the hosts of injecting rules only, wildcards as their domain', () => {
  const host = (h: string) => ({ host: h, wildcard: h.startsWith('*.'), port: 443 });
  const names = injectedCaNames({
    egress: [
      { name: 'a', hosts: [host('api.lab.test')], inject: [{ header: 'x-k', template: [{ secret: 'k' }] }], span: { line: 1, column: 1, endColumn: 2 } },
      { name: 'b', hosts: [host('gw.lab.test'), host('*.gw.lab.test')], websocketToken: 'k', span: { line: 2, column: 1, endColumn: 2 } },
      { name: 'c', hosts: [host('plain.lab.test')], span: { line: 3, column: 1, endColumn: 2 } },
    ],
  });
  assert.equal(names, ['api.lab.test', 'gw.lab.test']);
});

test('the store: key 0600, stable across loads; new names keep the key; a readable key is refused, never replaced', () => {
  const state = join(dir, 'state');
  spawnSync('mkdir', ['-p', state]);
  const uid = process.getuid!();
  const first = loadOrCreateCa(state, NAMES, 'vm', uid);
  assert.is(first.made, 'key');
  assert.is(statSync(join(state, CA_KEY_FILE)).mode & 0o777, 0o600);
  const again = loadOrCreateCa(state, [...NAMES].reverse(), 'vm', uid);
  assert.is(again.made, 'nothing');
  assert.is(again.certPem, first.certPem);
  const wider = loadOrCreateCa(state, [...NAMES, 'new.lab.test'], 'vm', uid);
  assert.is(wider.made, 'certificate');
  assert.is(wider.keyPem, first.keyPem);
  assert.equal(permittedDnsNames(forge.pki.certificateFromPem(readFileSync(join(state, CA_CERT_FILE), 'utf8'))), [...NAMES, 'new.lab.test'].sort());
  chmodSync(join(state, CA_KEY_FILE), 0o644);
  assert.throws(() => loadOrCreateCa(state, NAMES, 'vm', uid), /is not a 0600 file of the owner's/);
  assert.is(readFileSync(join(state, CA_KEY_FILE), 'utf8'), first.keyPem);
  chmodSync(join(state, CA_KEY_FILE), 0o600);
  assert.throws(() => loadOrCreateCa(state, NAMES, 'vm', uid + 1), /not a 0600 file of the owner's/);
  const linked = join(dir, 'linked');
  spawnSync('mkdir', ['-p', linked]);
  symlinkSync(join(state, CA_KEY_FILE), join(linked, CA_KEY_FILE));
  assert.throws(() => loadOrCreateCa(linked, NAMES, 'vm', uid), /symbolic link/);
});

test('cleanup', () => {
  rmSync(dir, { recursive: true, force: true });
});

test.run();
