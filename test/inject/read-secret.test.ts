// Secret sources: the keychain (a fake `security` on PATH), a command without a shell, an
// owner-only file. Each failure names the item and a fix; no failure text, argv or environment
// ever holds the value (the value is random per run and searched for everywhere).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSecret, readSecrets } from '../../src/inject/read-secret.ts';
import { checkedSecretValue } from '../../src/inject/secret-value.ts';

const dir = mkdtempSync(join(tmpdir(), 'np-secret-'));
const secret = `sk-test-${randomBytes(18).toString('base64url')}`;
const argvLog = join(dir, 'argv.log');
// A stand-in for macOS's security(1): prints the value for service "good", exits 44 (item not
// found) for "missing", 36 (interaction not allowed) for "locked"; records its argv and environment.
writeFileSync(join(dir, 'security'), `#!/bin/sh
echo "$@" >> ${argvLog}
env >> ${argvLog}
case "$3" in
  good) printf '%s\\n' '${secret}' ;;
  missing) echo "security: SecKeychainSearchCopyNext: The specified item could not be found in the keychain." >&2; exit 44 ;;
  locked) echo '${secret}' >&2; exit 36 ;;
esac
`, { mode: 0o755 });
writeFileSync(join(dir, 'print-token'), `#!/bin/sh\n[ "$1" = "a b" ] && [ "$#" = 1 ] && printf '%s' '${secret}' && exit 0\necho '${secret}' >&2; exit 3\n`, { mode: 0o755 });
writeFileSync(join(dir, 'slow'), '#!/bin/sh\nsleep 5\n', { mode: 0o755 });
writeFileSync(join(dir, 'two-lines'), `#!/bin/sh\nprintf '%s\\n%s\\n' '${secret}' '${secret}'\n`, { mode: 0o755 });
const env = { PATH: `${dir}:/usr/bin:/bin` };
const ownerUid = process.getuid!();
const options = { ownerUid, env };
const texts: string[] = [];

function keep<T extends { ok: boolean }>(read: T): T {
  // A success holds the value by design; only failures are searched.
  if (!read.ok) texts.push(JSON.stringify(read));
  return read;
}

test('keychain: the value from security -w, argv without the value', async () => {
  const read = keep(await readSecret({ name: 'anthropic', source: { kind: 'keychain', service: 'good' } }, options));
  assert.equal(read, { ok: true, value: secret });
  const log = readFileSync(argvLog, 'utf8');
  assert.ok(log.startsWith('find-generic-password -s good -w\n'));
  assert.not.ok(log.includes(secret), 'the value reached argv or the environment');
});

test('keychain: a missing or locked item fails with its service name and a fix, never the output', async () => {
  const missing = keep(await readSecret({ name: 'anthropic', source: { kind: 'keychain', service: 'missing' } }, options));
  assert.not.ok(missing.ok);
  if (!missing.ok) {
    assert.is(missing.message, 'The secret "anthropic" could not be read: the keychain item "missing" is not in the keychain.');
    assert.match(missing.hint, /security add-generic-password -s missing/);
  }
  const locked = keep(await readSecret({ name: 'anthropic', source: { kind: 'keychain', service: 'locked' } }, options));
  assert.not.ok(locked.ok);
  if (!locked.ok) assert.match(locked.message, /locked/);
});

test('command: run without a shell (an argument with a space stays one), stderr never quoted', async () => {
  assert.equal(keep(await readSecret({ name: 'd', source: { kind: 'command', argv: ['print-token', 'a b'] } }, options)), { ok: true, value: secret });
  const bad = keep(await readSecret({ name: 'd', source: { kind: 'command', argv: ['print-token', 'a', 'b'] } }, options));
  assert.equal(bad, { ok: false, message: 'The secret "d" could not be read: the command "print-token a b" exited with status 3.', hint: bad.ok ? '' : bad.hint });
  const absent = keep(await readSecret({ name: 'd', source: { kind: 'command', argv: ['no-such-program-np'] } }, options));
  assert.not.ok(absent.ok);
  if (!absent.ok) assert.match(absent.message, /could not be run \(ENOENT\)/);
  const two = keep(await readSecret({ name: 'd', source: { kind: 'command', argv: ['two-lines'] } }, options));
  assert.not.ok(two.ok);
  if (!two.ok) assert.match(two.message, /more than one line/);
});

test('command: one that waits is killed at the timeout and fails', async () => {
  const started = Date.now();
  const read = keep(await readSecret({ name: 'd', source: { kind: 'command', argv: ['slow'] } }, { ...options, timeoutMs: 200 }));
  assert.not.ok(read.ok);
  assert.ok(Date.now() - started < 2000);
});

test('file: 0600 of the owner is read; 0640, 0604, a link or a folder is refused with a chmod hint', async () => {
  const path = join(dir, 'lab.secret');
  writeFileSync(path, `${secret}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  assert.equal(keep(await readSecret({ name: 'lab', source: { kind: 'file', path } }, options)), { ok: true, value: secret });
  for (const mode of [0o640, 0o604, 0o620]) {
    chmodSync(path, mode);
    const read = keep(await readSecret({ name: 'lab', source: { kind: 'file', path } }, options));
    assert.not.ok(read.ok, mode.toString(8));
    if (!read.ok) assert.match(read.hint, /chmod 600/);
  }
  chmodSync(path, 0o600);
  const link = join(dir, 'link.secret');
  symlinkSync(path, link);
  const viaLink = keep(await readSecret({ name: 'lab', source: { kind: 'file', path: link } }, options));
  assert.not.ok(viaLink.ok);
  if (!viaLink.ok) assert.match(viaLink.message, /symbolic link/);
  const other = keep(await readSecret({ name: 'lab', source: { kind: 'file', path } }, { ...options, ownerUid: ownerUid + 1 }));
  assert.not.ok(other.ok);
  assert.not.ok(keep(await readSecret({ name: 'lab', source: { kind: 'file', path: dir } }, options)).ok);
});

test('readSecrets reports every failure at once', async () => {
  const { values, failures } = await readSecrets([
    { name: 'a', source: { kind: 'keychain', service: 'good' } },
    { name: 'b', source: { kind: 'keychain', service: 'missing' } },
    { name: 'c', source: { kind: 'command', argv: ['no-such-program-np'] } },
  ], options);
  texts.push(JSON.stringify(failures));
  assert.equal([...values.keys()], ['a']);
  assert.is(failures.length, 2);
});

test('a value must be one line of printable ASCII, 8 characters or more', () => {
  const v = (s: string) => checkedSecretValue(Buffer.from(s, 'latin1'));
  assert.equal(v('abcdefgh\n'), { ok: true, value: 'abcdefgh' });
  assert.equal(v('abcdefgh\r\n'), { ok: true, value: 'abcdefgh' });
  assert.not.ok(v('short').ok);
  assert.not.ok(v('abcd\r\nefgh').ok);
  assert.not.ok(v('abcd\0efghij').ok);
  assert.not.ok(v(' abcdefgh').ok);
  assert.not.ok(v('abcdéfghij').ok);
  assert.not.ok(v('').ok);
});

test('no failure text holds the secret', () => {
  for (const text of texts) assert.not.ok(text.includes(secret));
  rmSync(dir, { recursive: true, force: true });
});

test.run();
