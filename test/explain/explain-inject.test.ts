// explain and credential injection: a name with injection says the proxy adds which secret, as
// which header or gateway token; a name without injection says nothing of secrets.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compilePolicy } from '../../src/compiler/compile.ts';
import { emitArtifacts } from '../../src/compiler/emit/index.ts';
import { explain } from '../../src/explain/explain.ts';

const HOME = '/Users/owner';
const LINES = [
  'vm inject-vm',
  'secret anthropic from keychain nanoclaw-anthropic env ANTHROPIC_API_KEY',
  'secret discord from keychain nanoclaw-discord',
  'egress claude api.anthropic.test inject x-api-key: {anthropic}',
  'egress gateway gateway.discord.test *.discord.test websocket-token {discord}',
  'egress plain api.example.test',
];
const out = compilePolicy({ file: 't.policy', source: `${LINES.join('\n')}\n`, home: HOME, cwd: HOME });
const ctx = { policy: out.policy!, artifacts: [...emitArtifacts(out.policy!)], backend: 'pf' as const, cwd: '/tmp' };
const proxyReason = (target: string) => explain(ctx, target).routes.find((r) => r.name === 'egress proxy')!.layers.at(-1)!.reason;

test('an injected name: the proxy adds the secret by name, never a value', () => {
  assert.match(proxyReason('api.anthropic.test:443'), /adds the secret "anthropic" as the header "x-api-key" \(the VM holds only the placeholder\)/);
  assert.match(proxyReason('eu.discord.test:443'), /adds the secret "discord" as the token of the gateway's IDENTIFY and RESUME/);
});

test('a name without injection says nothing of secrets', () => {
  assert.not.match(proxyReason('api.example.test:443'), /secret/);
});

test.run();
