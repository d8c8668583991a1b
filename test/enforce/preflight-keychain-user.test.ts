// enforce's keychain-user preflight: a policy reading the keychain is enforced by its owner only;
// root (sudo nanopolicy enforce) would read root's keychains, another user theirs.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tmpdir } from 'node:os';
import { compilePolicy } from '../../src/compiler/compile.ts';
import { keychainUserCheck } from '../../src/enforce/preflight-keychain-user.ts';

const dir = tmpdir();
const policy = compilePolicy({ file: 'p.policy', home: dir, cwd: dir, source: 'vm v\nsecret anthropic from keychain nanoclaw-anthropic\negress claude api.anthropic.test inject x-api-key: {anthropic}\n' }).policy!;

test('enforce preflight: keychain secrets need enforce to run as the policy\'s owner, never root', async () => {
  const owner = policy.owner.user;
  const check = keychainUserCheck(policy, () => ({ uid: 0, user: 'root' }))!;
  const asRoot = await check.check({} as never);
  assert.is(asRoot.length, 1);
  assert.match(asRoot[0]!.message, "enforce runs as root: the proxy would read root's keychains");
  const other = await keychainUserCheck(policy, () => ({ uid: 501, user: 'mallory' }))!.check({} as never);
  assert.match(other[0]!.message, `enforce runs as mallory, but the policy is ${owner}'s`);
  assert.equal(await keychainUserCheck(policy, () => ({ uid: 501, user: owner }))!.check({} as never), []);
  const fileOnly = compilePolicy({ file: 'p.policy', home: dir, cwd: dir, source: `vm v\nsecret lab from command "printf x"\negress claude api.anthropic.test inject x-api-key: {lab}\n` }).policy;
  assert.ok(fileOnly);
  assert.is(keychainUserCheck(fileOnly!), undefined, 'no keychain source: no check');
});

test.run();
