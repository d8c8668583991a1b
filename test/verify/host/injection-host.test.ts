// verify's host checks for credential injection: the CA key's mode and owner, each secret source
// readable (its value never in a row), the CA's constraints equal to the policy's injected names,
// and a leaf our CA signs for an unlisted name refused by Node's TLS. Each is attacked: a key
// others can read, a link, a short or foreign-owned secret file, a locked keychain item, a CA
// for other names, a CA without constraints; a check that cannot run fails as NOT RUN.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { compilePolicy } from '../../../src/compiler/compile.ts';
import type { Policy } from '../../../src/compiler/policy.ts';
import { loadOrCreateCa, CA_CERT_FILE as STORE_CERT, CA_KEY_FILE as STORE_KEY } from '../../../src/inject/ca-store.ts';
import { newKeyPem } from '../../../src/inject/certificate-authority.ts';
import { CA_CERT_FILE, CA_KEY_FILE, checkCaConstraints, checkCaKey, checkInjectionHost, checkUnlistedLeafRefused } from '../../../src/verify/host/injection-host.ts';
import { permittedNames } from '../../../src/verify/host/x509-der.ts';
import { permittedDnsNames } from '../../../src/inject/name-constraints.ts';

const dir = mkdtempSync(join(tmpdir(), 'np-inject-host-'));
const value = `sk-test-${randomBytes(18).toString('base64url')}`;
// A stand-in for macOS's security(1): prints the value for "good", exits 36 (interaction not
// allowed: a locked login keychain) for "locked", printing the value on stderr to tempt a leak.
mkdirSync(join(dir, 'bin'));
writeFileSync(join(dir, 'bin/security'), `#!/bin/sh\ncase "$3" in\n  good) printf '%s\\n' '${value}' ;;\n  locked) echo '${value}' >&2; exit 36 ;;\n  *) exit 44 ;;\nesac\n`, { mode: 0o755 });
const secretFile = join(dir, 'lab.secret');
writeFileSync(secretFile, `${value}\n`, { mode: 0o600 });
const env = { PATH: `${join(dir, 'bin')}:/usr/bin:/bin` };
const ownerUid = process.getuid!();

function policyOf(text: string): Policy {
  const outcome = compilePolicy({ file: 'p.policy', source: `vm lab-vm\n${text}`, home: dir, cwd: dir });
  assert.equal(outcome.diagnostics.filter((d) => d.severity === 'error'), []);
  return outcome.policy!;
}

const POLICY = policyOf(`secret anthropic from keychain good env ANTHROPIC_API_KEY
secret lab from file ${secretFile}
egress claude api.anthropic.test inject x-api-key: {anthropic}
egress gateway gateway.discord.test *.discord.test websocket-token {lab}
egress plain cdn.plain.test
`);
const NAMES = ['api.anthropic.test', 'discord.test', 'gateway.discord.test'];

function caDir(names = NAMES): string {
  const d = mkdtempSync(join(dir, 'ca-'));
  loadOrCreateCa(d, names, 'lab-vm', ownerUid);
  return d;
}

test('a sound install: every row passes, and no row holds the value', async () => {
  const rows = await checkInjectionHost(POLICY, { caDir: caDir(), ownerUid, env });
  assert.is(rows.length, 5, JSON.stringify(rows, null, 1));
  assert.equal(rows.filter((r) => !r.ok), [], JSON.stringify(rows, null, 1));
  assert.not.match(JSON.stringify(rows), value.slice(8));
  assert.ok(rows.some((r) => r.probe === 'secret "anthropic" from keychain good' && r.measured === 'readable, ≥ 8 characters'));
});

test('verify names the CA files as the proxy does, and reads the constraints as node-forge does', () => {
  assert.is(CA_KEY_FILE, STORE_KEY);
  assert.is(CA_CERT_FILE, STORE_CERT);
  for (const names of [NAMES, ['a.test'], ['x.example.test', 'y.example.test', 'z.test']]) {
    const d = caDir(names);
    const pem = readFileSync(join(d, CA_CERT_FILE), 'utf8');
    assert.equal(permittedNames(pem), names);
    assert.equal(permittedNames(pem), permittedDnsNames(forge.pki.certificateFromPem(pem)));
  }
  assert.is(permittedNames(unconstrainedCa(newKeyPem())), undefined);
});

test('a policy without secrets: no rows', async () => {
  assert.equal(await checkInjectionHost(policyOf('egress plain cdn.plain.test\n'), { caDir: dir, ownerUid, env }), []);
});

test('the CA key: readable by others, a link, another owner, or missing fails', () => {
  const d = caDir();
  assert.ok(checkCaKey(d, ownerUid).ok);
  chmodSync(join(d, CA_KEY_FILE), 0o640);
  const open = checkCaKey(d, ownerUid);
  assert.not.ok(open.ok);
  assert.is(open.measured, `0640, uid ${ownerUid}`);
  chmodSync(join(d, CA_KEY_FILE), 0o600);
  assert.not.ok(checkCaKey(d, ownerUid + 1).ok, 'the key of another uid');
  renameSync(join(d, CA_KEY_FILE), join(d, 'real.pem'));
  symlinkSync(join(d, 'real.pem'), join(d, CA_KEY_FILE));
  assert.is(checkCaKey(d, ownerUid).ok, false, 'a link to a 0600 key is still refused');
  rmSync(join(d, CA_KEY_FILE));
  const missing = checkCaKey(d, ownerUid);
  assert.not.ok(missing.ok);
  assert.match(missing.measured, 'NOT RUN (ENOENT)');
});

test('secrets: a locked keychain item, a file others can read and a short value each fail, by name, without the value', async () => {
  const short = join(dir, 'short.secret');
  writeFileSync(short, 'abc\n', { mode: 0o600 });
  const open = join(dir, 'open.secret');
  writeFileSync(open, `${value}\n`, { mode: 0o644 });
  chmodSync(open, 0o644);
  const policy = policyOf(`secret locked from keychain locked
secret missing from keychain nowhere
secret short from file ${short}
secret open from file ${open}
egress claude api.anthropic.test inject x-api-key: {locked} inject x-a: {missing} inject x-b: {short} inject x-c: {open}
`);
  const rows = (await checkInjectionHost(policy, { caDir: caDir(['api.anthropic.test']), ownerUid, env })).filter((r) => r.probe.startsWith('secret '));
  assert.is(rows.length, 4);
  for (const r of rows) {
    assert.not.ok(r.ok, r.probe);
    assert.is(r.measured, 'NOT READABLE');
  }
  assert.match(rows[0]!.detail!, 'the keychain item "locked"');
  assert.match(rows[3]!.detail!, 'mode 0644');
  assert.not.match(JSON.stringify(rows), value.slice(8), 'a failing source never quotes its output');
});

test('constraints: a CA for other names, or none, or no certificate fails', () => {
  assert.ok(checkCaConstraints(POLICY, caDir()).ok);
  const other = checkCaConstraints(POLICY, caDir(['api.anthropic.test', 'discord.test']));
  assert.not.ok(other.ok);
  assert.is(other.measured, 'api.anthropic.test discord.test');
  assert.is(checkCaConstraints(POLICY, caDir(['api.anthropic.test', 'discord.test', 'gateway.discord.test', 'evil.test'])).ok, false, 'one name too many');
  const d = caDir();
  writeFileSync(join(d, CA_CERT_FILE), unconstrainedCa(newKeyPem()));
  assert.is(checkCaConstraints(POLICY, d).measured, 'NO CONSTRAINTS');
  rmSync(join(d, CA_CERT_FILE));
  assert.match(checkCaConstraints(POLICY, d).measured, 'NOT RUN');
});

test('an unlisted leaf: refused under our CA; accepted under a CA without constraints (the check fails); NOT RUN without the CA', async () => {
  const good = await checkUnlistedLeafRefused(POLICY, { caDir: caDir(), ownerUid, env });
  assert.ok(good[0]!.ok, JSON.stringify(good));
  assert.match(good[0]!.measured, /\.invalid: permitted subtree violation; api\.anthropic\.test: accepted/);
  const d = caDir();
  const key = newKeyPem();
  writeFileSync(join(d, CA_KEY_FILE), key, { mode: 0o600 });
  writeFileSync(join(d, CA_CERT_FILE), unconstrainedCa(key));
  const open = await checkUnlistedLeafRefused(POLICY, { caDir: d, ownerUid, env });
  assert.not.ok(open[0]!.ok);
  assert.match(open[0]!.detail!, 'do not trust this proxy-ca.pem', JSON.stringify(open));
  const empty = mkdtempSync(join(dir, 'none-'));
  const none = await checkUnlistedLeafRefused(POLICY, { caDir: empty, ownerUid, env });
  assert.not.ok(none[0]!.ok);
  assert.match(none[0]!.measured, 'NOT RUN');
});

test('a CA whose key does not match its certificate: the control leaf is refused too, so NOT RUN, not a pass', async () => {
  const d = caDir();
  writeFileSync(join(d, CA_KEY_FILE), newKeyPem(), { mode: 0o600 });
  const rows = await checkUnlistedLeafRefused(POLICY, { caDir: d, ownerUid, env });
  assert.not.ok(rows[0]!.ok);
  assert.match(rows[0]!.detail!, 'NOT RUN', JSON.stringify(rows));
});

// A CA certificate like ours but without name constraints (what a careless CA would be).
function unconstrainedCa(keyPem: string): string {
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.rsa.setPublicKey(key.n, key.e);
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 3600_000);
  cert.validity.notAfter = new Date(Date.now() + 2 * 365 * 86400_000);
  const subject = [{ name: 'commonName', value: 'unconstrained test CA' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }, { name: 'subjectKeyIdentifier' }]);
  cert.sign(key, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
