// Credential injection, from the host (issue 23): the CA's key is the owner's alone (0600), every
// secret source can be read as the proxy reads it (the value is discarded, only "≥ 8 characters"
// is reported), the CA's name constraints are exactly the policy's injected names, and a leaf our
// CA signs for a name outside them is refused by Node's TLS with the CA as the only root.
// Every check that cannot run is a failed row saying NOT RUN, never a pass.

import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import type { Policy } from '../../compiler/policy.ts';
import { injectedCaNames } from '../../compiler/emit/ca-names.ts';
import { readSecret } from '../../inject/read-secret.ts';
import { MIN_SECRET_LENGTH } from '../../inject/secret-value.ts';
import { permittedNames, signTrialLeaf } from './x509-der.ts';
import type { ProbeResult } from '../inside/result.ts';
import { hostRow } from './host-result.ts';

/** The CA's files in the state directory, as src/inject/ca-store.ts names them (a test holds the two
 *  equal): not imported from there, since that module brings node-forge, which the CLI bundle lacks. */
export const CA_KEY_FILE = 'proxy-ca-key.pem';
export const CA_CERT_FILE = 'proxy-ca.pem';

export interface InjectionHostOptions {
  /** Where the proxy keeps its CA: enforce's state directory. */
  caDir: string;
  /** The uid the proxy runs as and reads secrets as (the owner). */
  ownerUid: number;
  /** The environment the sources are read with (PATH finds `security` and commands). */
  env: NodeJS.ProcessEnv;
  /** How long one TLS trial may take. */
  timeoutMs?: number;
}

// Every row of the injection checks; none when the policy injects nothing.
export async function checkInjectionHost(policy: Pick<Policy, 'egress' | 'secrets'>, o: InjectionHostOptions): Promise<ProbeResult[]> {
  if (policy.secrets.length === 0) return [];
  const key = checkCaKey(o.caDir, o.ownerUid);
  const secrets = await Promise.all(policy.secrets.map((s) => checkSecretReadable(s, o)));
  const constraints = checkCaConstraints(policy, o.caDir);
  const leaf = await checkUnlistedLeafRefused(policy, o);
  return [key, ...secrets, constraints, ...leaf];
}

// The CA key file: a regular file (not a link), the owner's, no right for group or others.
export function checkCaKey(caDir: string, ownerUid: number): ProbeResult {
  const started = performance.now();
  const path = join(caDir, CA_KEY_FILE);
  const probe = `proxy CA key ${path}`;
  const expected = `0600, uid ${ownerUid}`;
  let st;
  try {
    st = lstatSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    return hostRow(probe, expected, `NOT RUN (${code})`, false, performance.now() - started, `the CA key cannot be examined (${code}): has enforce started the proxy with this policy?`);
  }
  const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
  const measured = `${st.isSymbolicLink() ? 'link' : st.isFile() ? mode : 'not a file'}, uid ${st.uid}`;
  // Why exactly: a key anyone else can read lets them sign leaves the guest trusts.
  const ok = st.isFile() && !st.isSymbolicLink() && (st.mode & 0o077) === 0 && st.uid === ownerUid;
  return hostRow(probe, expected, measured, ok, performance.now() - started, ok ? undefined : `the CA key is not a 0600 file of uid ${ownerUid}: remove it, run enforce to make a new CA, and trust the new ${CA_CERT_FILE} in the guest`);
}

// Whether one secret can be read the way the proxy reads it; the value is dropped here, at once.
export async function secretReadable(secret: Policy['secrets'][number], o: Pick<InjectionHostOptions, 'ownerUid' | 'env'>): Promise<{ ok: true } | { ok: false; message: string; hint: string }> {
  const read = await readSecret(secret, { ownerUid: o.ownerUid, env: o.env });
  return read.ok ? { ok: true } : { ok: false, message: read.message, hint: read.hint };
}

// One secret's row; the value is never reported, only that it has the length the proxy needs.
export async function checkSecretReadable(secret: Policy['secrets'][number], o: Pick<InjectionHostOptions, 'ownerUid' | 'env'>): Promise<ProbeResult> {
  const started = performance.now();
  const read = await secretReadable(secret, o);
  const probe = `secret "${secret.name}" from ${describeSource(secret.source)}`;
  const expected = `readable, ≥ ${MIN_SECRET_LENGTH} characters`;
  if (read.ok) return hostRow(probe, expected, `readable, ≥ ${MIN_SECRET_LENGTH} characters`, true, performance.now() - started);
  return hostRow(probe, expected, 'NOT READABLE', false, performance.now() - started, `${read.message} (${read.hint})`);
}

export function describeSource(source: Policy['secrets'][number]['source']): string {
  if (source.kind === 'keychain') return `keychain ${source.service}`;
  if (source.kind === 'file') return `file ${source.path}`;
  return `command ${source.argv[0]}`;
}

// The CA certificate's permitted names equal the policy's injected names (sorted, exact).
export function checkCaConstraints(policy: Pick<Policy, 'egress'>, caDir: string): ProbeResult {
  const started = performance.now();
  const wanted = injectedCaNames(policy);
  const probe = `proxy CA name constraints (${CA_CERT_FILE})`;
  const expected = wanted.join(' ') || '(no injected names)';
  let names: string[] | undefined;
  try {
    names = permittedNames(readFileSync(join(caDir, CA_CERT_FILE), 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unparsable';
    return hostRow(probe, expected, `NOT RUN (${code})`, false, performance.now() - started, `the CA certificate in ${caDir} cannot be read (${code})`);
  }
  if (names === undefined) return hostRow(probe, expected, 'NO CONSTRAINTS', false, performance.now() - started, 'the CA certificate has no name constraints: the guest would trust it for every name');
  const ok = JSON.stringify(names) === JSON.stringify(wanted);
  return hostRow(probe, expected, names.join(' ') || '(none)', ok, performance.now() - started, ok ? undefined : 'the CA certificate names other names than the policy injects: run enforce again with this policy (it re-issues the certificate with the same key)');
}

// Signs, with our CA's key, a leaf for a name the policy does not list, serves it on loopback, and
// checks Node's TLS refuses it with our CA as its only root. A leaf for a listed name goes the same
// way first, so a refusal for any other reason (clock, key mismatch) is no false pass.
export async function checkUnlistedLeafRefused(policy: Pick<Policy, 'egress'>, o: InjectionHostOptions): Promise<ProbeResult[]> {
  const started = performance.now();
  const probe = 'proxy CA refused outside its names';
  const names = injectedCaNames(policy);
  // A name that can never be listed (RFC 2606 .invalid), fresh per run.
  const unlisted = `nanopolicy-${randomBytes(4).toString('hex')}.invalid`;
  const expected = `a leaf for ${unlisted} refused, one for ${names[0] ?? '(none)'} accepted`;
  let caCert: string;
  let caKey: string;
  try {
    caCert = readFileSync(join(o.caDir, CA_CERT_FILE), 'utf8');
    caKey = readFileSync(join(o.caDir, CA_KEY_FILE), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    return [hostRow(probe, expected, `NOT RUN (${code})`, false, performance.now() - started, `the CA in ${o.caDir} cannot be read (${code}), so no leaf could be signed with it`)];
  }
  const listed = names[0];
  if (listed === undefined) return [hostRow(probe, expected, 'NOT RUN', false, performance.now() - started, 'the policy injects on no name, so the CA has nothing to be limited to')];
  try {
    const control = await tryLeaf(caCert, signTrialLeaf(caCert, caKey, listed), listed, o.timeoutMs ?? 5000);
    const outside = await tryLeaf(caCert, signTrialLeaf(caCert, caKey, unlisted), unlisted, o.timeoutMs ?? 5000);
    const measured = `${unlisted}: ${outside ?? 'accepted'}; ${listed}: ${control ?? 'accepted'}`;
    if (control !== undefined) return [hostRow(probe, expected, measured, false, performance.now() - started, `NOT RUN: a leaf for the listed name ${listed} was refused too (${control}), so the refusal proves nothing`)];
    // Refused for its name constraints, not by chance (OpenSSL's X509_V_ERR_PERMITTED_VIOLATION,
    // which Node reports with the code UNSPECIFIED and this message).
    const ok = outside !== undefined && /subtree violation/.test(outside);
    return [hostRow(probe, expected, measured, ok, performance.now() - started, ok ? undefined : `Node's TLS trusts a leaf our CA signed for ${unlisted}: the CA's name constraints do not hold; do not trust this proxy-ca.pem in the guest`)];
  } catch (error) {
    return [hostRow(probe, expected, 'NOT RUN', false, performance.now() - started, `the trial could not run: ${(error as Error).message}`)];
  }
}

// Serves `leaf` on 127.0.0.1 and connects with `ca` as the only root: undefined when the chain and
// name were accepted, else what the TLS error says.
function tryLeaf(ca: string, leaf: { certPem: string; keyPem: string }, name: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const server = tls.createServer({ cert: leaf.certPem, key: leaf.keyPem }, (socket) => socket.end());
    server.on('tlsClientError', () => {});
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      const timer = setTimeout(() => finish('timeout'), timeoutMs);
      const socket = tls.connect({ host: '127.0.0.1', port, servername: name, ca: [ca], rejectUnauthorized: true });
      let done = false;
      function finish(result: string | undefined): void {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket.destroy();
        server.close();
        resolve(result);
      }
      socket.on('secureConnect', () => finish(undefined));
      socket.on('error', (e: NodeJS.ErrnoException) => finish(e.message || e.code || 'refused'));
    });
  });
}
