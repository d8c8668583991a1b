// doctor's secret rows: each source read as the proxy reads it, through the fake `security`
// (test/fixtures/bin): an item present is ok (a keychain row says the boot caveat), a locked
// login keychain and a missing item fail with the fix, and no row holds the value.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePolicy } from '../../src/compiler/compile.ts';
import { secretRows } from '../../src/doctor/secrets-check.ts';

const dir = mkdtempSync(join(tmpdir(), 'np-doctor-secrets-'));
const value = `sk-test-${randomBytes(18).toString('base64url')}`;
writeFileSync(join(dir, 'nanoclaw-anthropic'), `${value}\n`);
writeFileSync(join(dir, 'nanoclaw-discord.locked'), '');
const env = { PATH: `${join(import.meta.dirname, '../fixtures/bin')}:/usr/bin:/bin`, NANOPOLICY_FAKE_KEYCHAIN: dir };
const policy = compilePolicy({
  file: 'p.policy',
  home: dir,
  cwd: dir,
  source: `vm v
secret anthropic from keychain nanoclaw-anthropic env ANTHROPIC_API_KEY
secret discord from keychain nanoclaw-discord env DISCORD_TOKEN
secret github from keychain nanoclaw-github
egress claude api.anthropic.test inject x-api-key: {anthropic}
egress discord discord.test inject authorization: Bot {discord}
egress github api.github.test inject authorization: Bearer {github}
`,
}).policy!;

test('present, locked and missing keychain items: ok with the boot caveat, fail with the fix, never the value', async () => {
  const rows = await secretRows(policy, env, process.getuid!());
  assert.equal(rows.map((r) => [r.id, r.status]), [['secret-anthropic', 'ok'], ['secret-discord', 'fail'], ['secret-github', 'fail']]);
  assert.match(rows[0]!.detail, `until ${policy.owner.user} logs in`);
  assert.match(rows[1]!.detail, 'the keychain is locked');
  assert.match(rows[1]!.fix!, 'security unlock-keychain');
  assert.match(rows[2]!.detail, 'is not in the keychain');
  assert.match(rows[2]!.fix!, 'security add-generic-password -s nanoclaw-github -a "$USER" -w');
  assert.not.match(JSON.stringify(rows), value.slice(8));
});

test('a policy without secrets has no secret rows', async () => {
  const plain = compilePolicy({ file: 'p.policy', home: dir, cwd: dir, source: 'vm v\negress web web.example.test\n' }).policy!;
  assert.equal(await secretRows(plain, env, process.getuid!()), []);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
