// The proxy config's `inject` section: built from a compiled policy, it round-trips through JSON
// and the parser; a config that would inject a framing header, name an unknown secret, or read a
// relative file is refused. It never holds a secret's value (there is none to hold at compile).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compilePolicy } from '../../src/compiler/compile.ts';
import { parseInjectConfig } from '../../src/formats/inject-config.ts';
import { buildInjectConfig } from '../../src/compiler/emit/inject-config.ts';
import { emitProxyJson } from '../../src/compiler/emit/proxy-json.ts';
import { parseProxyConfig } from '../../src/formats/proxy-config.ts';

const POLICY = `vm nanoclaw-vm
secret anthropic from keychain nanoclaw-anthropic env ANTHROPIC_API_KEY
secret discord   from command "bw get password discord"
egress claude  api.anthropic.com  inject x-api-key: {anthropic}
egress discord discord.com        inject authorization: Bot {discord}
egress gateway gateway.discord.gg *.discord.gg websocket-token {discord}
egress plain   api.example.com
`;

test('built from a policy: sources, templates as written, CA names; round-trips through JSON', () => {
  const { policy } = compilePolicy({ file: 't.policy', source: POLICY, home: '/Users/owner', cwd: '/Users/owner' });
  const section = buildInjectConfig(policy!, '/Users/owner/.nanopolicy/run/nanoclaw-vm')!;
  assert.equal(section.caNames, ['api.anthropic.com', 'discord.com', 'discord.gg', 'gateway.discord.gg']);
  assert.equal(section.rules, [
    { name: 'claude', headers: [{ header: 'x-api-key', template: '{anthropic}' }] },
    { name: 'discord', headers: [{ header: 'authorization', template: 'Bot {discord}' }] },
    { name: 'gateway', headers: [], websocketToken: 'discord' },
  ]);
  assert.equal(parseInjectConfig(JSON.parse(JSON.stringify(section))), section);
  const none = compilePolicy({ file: 't.policy', source: 'vm v\negress a api.example.com\n', home: '/h', cwd: '/h' }).policy!;
  assert.is(buildInjectConfig(none, '/h/run'), undefined);
});

test('proxy.json carries the section (CA beside the audit log) and the proxy reads it back; a rule it does not list is refused', () => {
  const { policy } = compilePolicy({ file: 't.policy', source: POLICY, home: '/Users/owner', cwd: '/Users/owner' });
  const text = emitProxyJson(policy!, { auditLog: '/var/state/nanoclaw-vm/proxy-audit.jsonl' });
  const config = parseProxyConfig(text);
  assert.is(config.inject!.caDir, '/var/state/nanoclaw-vm');
  assert.equal(config.inject!.rules.map((r) => r.name), ['claude', 'discord', 'gateway']);
  const json = JSON.parse(text);
  json.inject.rules[0].name = 'nosuch';
  assert.throws(() => parseProxyConfig(JSON.stringify(json)), /names the rule "nosuch", which "rules" does not list/);
  const plain = compilePolicy({ file: 't.policy', source: 'vm v\negress a api.example.com\n', home: '/h', cwd: '/h' }).policy!;
  assert.not.ok('inject' in JSON.parse(emitProxyJson(plain)));
});

test('a hand-edited section that would inject a framing header, an unknown secret or a relative file is refused', () => {
  const base = () => ({
    caDir: '/state', caNames: ['api.lab.test'],
    secrets: [{ name: 'k', source: { kind: 'file', path: '/state/k' } }],
    rules: [{ name: 'a', headers: [{ header: 'x-api-key', template: '{k}' }] }],
  });
  assert.ok(parseInjectConfig(base()));
  const bad: Array<[(c: ReturnType<typeof base>) => void, RegExp]> = [
    [(c) => (c.rules[0]!.headers[0]!.header = 'host'), /not a header the proxy may set/],
    [(c) => (c.rules[0]!.headers[0]!.header = 'X-Api-Key'), /not a header the proxy may set/],
    [(c) => (c.rules[0]!.headers[0]!.template = '{other}'), /unknown secret "other"/],
    [(c) => (c.rules[0]!.headers[0]!.template = 'constant'), /names no secret/],
    [(c) => (c.secrets[0]!.source = { kind: 'file', path: 'k' }), /must be absolute/],
    [(c) => (c.secrets[0]!.source = { kind: 'shell', path: 'x' } as never), /keychain, command or file/],
    [(c) => ((c as Record<string, unknown>).secretValues = {}), /unknown key "inject.secretValues"/],
    [(c) => (c.caDir = 'state'), /absolute path/],
  ];
  for (const [mutate, message] of bad) {
    const c = base();
    mutate(c);
    assert.throws(() => parseInjectConfig(c), message);
  }
});

test.run();
