// Reads one secret from its source on the host: the keychain, a command run without a shell, or
// an owner-only file. The value stays in memory; no error text, log or argument ever holds it.

import { spawn } from 'node:child_process';
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import type { Secret } from '../compiler/policy.ts';
import { checkedSecretValue } from './secret-value.ts';

export type SecretRead = { ok: true; value: string } | { ok: false; message: string; hint: string };

export interface ReadSecretOptions {
  /** The uid a secret file must belong to (the owner the proxy runs as). */
  ownerUid: number;
  /** Environment the keychain tool and commands run with (PATH included). No secret is ever put in it. */
  env: NodeJS.ProcessEnv;
  /** A command that has not printed its secret by then is killed (default 30 s). */
  timeoutMs?: number;
}

const MAX_OUTPUT = 65536;

// Reads `secret` from its source; a failure names the secret and says what to do.
export async function readSecret(secret: Pick<Secret, 'name' | 'source'>, options: ReadSecretOptions): Promise<SecretRead> {
  const { name, source } = secret;
  if (source.kind === 'file') return readSecretFile(name, source.path, options.ownerUid);
  // The service and the command are on argv, never the value (domain.md §10: argv is public in ps).
  const argv = source.kind === 'keychain' ? ['security', 'find-generic-password', '-s', source.service, '-w'] : [...source.argv];
  const run = await runForOutput(argv, options.env, options.timeoutMs ?? 30_000);
  const what = source.kind === 'keychain' ? `the keychain item "${source.service}"` : `the command "${source.argv.join(' ')}"`;
  if (run.kind === 'spawn-failed') {
    return fail(name, `${what} could not be run (${run.code})`, source.kind === 'keychain'
      ? 'The keychain is read with macOS\'s "security" tool; run the proxy on the Mac, as the owner.'
      : `Check that "${source.kind === 'command' ? source.argv[0] : ''}" is installed and on PATH.`);
  }
  if (run.kind === 'timeout') return fail(name, `${what} printed nothing within ${Math.round((options.timeoutMs ?? 30_000) / 1000)} s`, 'Make sure it does not wait for input (a locked vault, a password prompt).');
  if (run.kind === 'too-long') return fail(name, `${what} printed more than ${MAX_OUTPUT} bytes`, 'The command must print the secret alone.');
  if (run.exitCode !== 0) {
    if (source.kind === 'keychain') return fail(name, `${what} ${keychainProblem(run.exitCode)}`, keychainHint(run.exitCode, source.service));
    // Stderr is never quoted: a command may print the secret there too.
    return fail(name, `${what} exited with status ${run.exitCode}`, 'Run it yourself as the owner and fix what it reports (a locked vault, an expired session).');
  }
  const checked = checkedSecretValue(run.stdout);
  if (!checked.ok) return fail(name, `the value from ${what} ${checked.problem}`, 'The source must print the secret alone, on one line.');
  return { ok: true, value: checked.value };
}

// What `security` meant by its exit status (the low byte of the keychain's OSStatus).
function keychainProblem(status: number): string {
  if (status === 44) return 'is not in the keychain'; // errSecItemNotFound
  if (status === 36) return 'cannot be read: the keychain is locked or asks for a password no one can type here'; // errSecInteractionNotAllowed
  if (status === 51) return 'cannot be read: access was denied'; // errSecAuthFailed
  return `cannot be read (security exited with ${status})`;
}

function keychainHint(status: number, service: string): string {
  if (status === 44) return `Store it with: security add-generic-password -s ${service} -a "$USER" -w   (it asks for the value)`;
  if (status === 36 || status === 51) return 'Unlock the login keychain (security unlock-keychain), and allow the "security" tool to read the item.';
  return `Try it yourself: security find-generic-password -s ${service} -w >/dev/null`;
}

// Reads an owner-only regular file without following a link.
function readSecretFile(name: string, path: string, ownerUid: number): SecretRead {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    return fail(name, `the file "${path}" cannot be opened (${code === 'ELOOP' ? 'it is a symbolic link' : code})`, 'Create it as the owner with mode 0600, outside every share.');
  }
  try {
    const stat = fstatSync(fd);
    const hint = `Make it the owner's alone: chown "$USER" ${path} && chmod 600 ${path}`;
    if (!stat.isFile()) return fail(name, `"${path}" is not a regular file`, 'Point the secret at a file.');
    if (stat.uid !== ownerUid) return fail(name, `the file "${path}" belongs to uid ${stat.uid}, not the owner (uid ${ownerUid})`, hint);
    if ((stat.mode & 0o077) !== 0) return fail(name, `the file "${path}" has mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')}: others may read or change it`, hint);
    if (stat.size > MAX_OUTPUT) return fail(name, `the file "${path}" is larger than ${MAX_OUTPUT} bytes`, 'The file must hold the secret alone.');
    const buffer = Buffer.alloc(stat.size + 1);
    let length = 0;
    for (let n; (n = readSync(fd, buffer, length, buffer.length - length, null)) > 0; ) length += n;
    const checked = checkedSecretValue(buffer.subarray(0, length));
    buffer.fill(0);
    if (!checked.ok) return fail(name, `the value in "${path}" ${checked.problem}`, 'The file must hold the secret alone, on one line.');
    return { ok: true, value: checked.value };
  } finally {
    closeSync(fd);
  }
}

type RunOutcome =
  | { kind: 'done'; exitCode: number; stdout: Buffer }
  | { kind: 'spawn-failed'; code: string }
  | { kind: 'timeout' }
  | { kind: 'too-long' };

// Runs argv without a shell, stdin closed, stderr discarded; stdout kept in memory only.
function runForOutput(argv: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<RunOutcome> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { env, shell: false, stdio: ['ignore', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    let size = 0;
    let settled: RunOutcome | undefined;
    const finish = (outcome: RunOutcome) => {
      if (settled) return;
      settled = outcome;
      clearTimeout(timer);
      if (outcome.kind !== 'done') {
        child.kill('SIGKILL');
        for (const c of chunks) c.fill(0);
      }
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ kind: 'timeout' }), timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_OUTPUT) finish({ kind: 'too-long' });
      else chunks.push(chunk);
    });
    child.on('error', (error: NodeJS.ErrnoException) => finish({ kind: 'spawn-failed', code: error.code ?? 'error' }));
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(chunks);
      for (const c of chunks) c.fill(0);
      finish({ kind: 'done', exitCode: code ?? (signal ? 128 : 1), stdout });
    });
  });
}

function fail(name: string, problem: string, hint: string): SecretRead {
  return { ok: false, message: `The secret "${name}" could not be read: ${problem}.`, hint };
}

// Reads every secret; all failures at once, so the owner fixes them in one go.
export async function readSecrets(secrets: ReadonlyArray<Pick<Secret, 'name' | 'source'>>, options: ReadSecretOptions): Promise<{ values: Map<string, string>; failures: Array<{ name: string; message: string; hint: string }> }> {
  const values = new Map<string, string>();
  const failures: Array<{ name: string; message: string; hint: string }> = [];
  for (const secret of secrets) {
    const read = await readSecret(secret, options);
    if (read.ok) values.set(secret.name, read.value);
    else failures.push({ name: secret.name, message: read.message, hint: read.hint });
  }
  return { values, failures };
}
