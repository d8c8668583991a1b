// The secret and injection language: lowering into the Policy model, the file-owner check against
// faked host facts, and property tests for the template and command parsers.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { compilePolicy } from '../../../src/compiler/compile.ts';
import { parseTemplate, fillTemplate, type TemplatePart } from '../../../src/formats/header-template.ts';
import { splitCommand } from '../../../src/compiler/secrets/split-command.ts';
import type { FileFact } from '../../../src/compiler/paths/file-facts.ts';
import { emitProxyEnv, proxyEnvironment } from '../../../src/compiler/emit/proxy-env.ts';

const HOME = '/Users/owner';
const POLICY = `vm nanoclaw-vm
secret anthropic from keychain nanoclaw-anthropic env ANTHROPIC_API_KEY
secret discord   from command "bw get password discord"
secret lab       from file ~/.config/nanopolicy/lab.secret
egress claude  api.anthropic.com  inject x-api-key: {anthropic}
egress discord discord.com        inject Authorization: Bot {discord} inject x-lab: "a # {lab}"  # comment
egress gateway gateway.discord.gg *.discord.gg   websocket-token {discord}
egress plain   api.example.com
`;

function compile(source: string, facts?: Record<string, FileFact>) {
  return compilePolicy({
    file: 't.policy', source, home: HOME, cwd: `${HOME}/nanoclaw`,
    ...(facts ? { fileFacts: { ownerUid: 501, stat: (path: string) => facts[path] } } : {}),
  });
}

test('a policy with secrets lowers to sources, placeholders and injections', () => {
  const { policy, diagnostics } = compile(POLICY);
  assert.equal(diagnostics, []);
  assert.ok(policy);
  assert.equal(policy.secrets.map((s) => [s.name, s.source, s.env, s.placeholder]), [
    ['anthropic', { kind: 'keychain', service: 'nanoclaw-anthropic' }, 'ANTHROPIC_API_KEY', 'nanopolicy-placeholder:anthropic'],
    ['discord', { kind: 'command', argv: ['bw', 'get', 'password', 'discord'] }, undefined, 'nanopolicy-placeholder:discord'],
    ['lab', { kind: 'file', path: `${HOME}/.config/nanopolicy/lab.secret` }, undefined, 'nanopolicy-placeholder:lab'],
  ]);
  const [claude, discord, gateway, plain] = policy.egress;
  assert.equal(claude!.inject, [{ header: 'x-api-key', template: [{ secret: 'anthropic' }] }]);
  assert.equal(discord!.inject, [
    { header: 'authorization', template: [{ text: 'Bot ' }, { secret: 'discord' }] },
    { header: 'x-lab', template: [{ text: 'a # ' }, { secret: 'lab' }] },
  ]);
  assert.equal(gateway!.websocketToken, 'discord');
  assert.equal(gateway!.hosts.map((h) => h.host), ['gateway.discord.gg', '*.discord.gg']);
  // A line without injection lowers exactly as before: no empty fields for emitters to print.
  assert.equal(Object.keys(plain!).sort(), ['hosts', 'name', 'span']);
});

test('proxy.env gives the guest placeholders (never a value) and where our CA is; a policy without secrets gets neither', () => {
  const { policy } = compile(POLICY);
  const env = new Map(proxyEnvironment(policy!));
  assert.is(env.get('ANTHROPIC_API_KEY'), 'nanopolicy-placeholder:anthropic');
  assert.is(env.get('NODE_EXTRA_CA_CERTS'), '/Users/admin/.config/nanopolicy/proxy-ca.pem');
  assert.is(env.get('SSL_CERT_FILE'), '/Users/admin/.config/nanopolicy/ca-bundle.pem');
  assert.match(emitProxyEnv(policy!), /security add-trusted-cert -d -r trustRoot/);
  const plain = compile('vm v\negress a api.example.com\n').policy!;
  assert.not.ok(proxyEnvironment(plain).some(([k]) => k === 'NODE_EXTRA_CA_CERTS'));
  assert.not.match(emitProxyEnv(plain), /placeholder/);
});

test('a host named like a keyword still needs "inject" to end the host list', () => {
  const { diagnostics } = compile('vm v\nsecret k from keychain s\negress a api.example.com injectx.example.com inject x-k: {k}\n');
  assert.equal(diagnostics.filter((d) => d.severity === 'error'), []);
});

test('a secret file others may read, of another owner, or not a file is NP294; a 0600 file of the owner is fine', () => {
  const path = `${HOME}/.config/nanopolicy/lab.secret`;
  const codes = (fact: FileFact) => compile(POLICY, { [path]: fact }).diagnostics.map((d) => d.code);
  assert.equal(codes({ regular: true, mode: 0o600, uid: 501 }), []);
  assert.equal(codes({ regular: true, mode: 0o400, uid: 501 }), []);
  assert.equal(codes({ regular: true, mode: 0o640, uid: 501 }), ['NP294']);
  assert.equal(codes({ regular: true, mode: 0o604, uid: 501 }), ['NP294']);
  assert.equal(codes({ regular: true, mode: 0o600, uid: 0 }), ['NP294']);
  assert.equal(codes({ regular: false, mode: 0o600, uid: 501 }), ['NP294']);
  const message = compile(POLICY, { [path]: { regular: true, mode: 0o644, uid: 501 } }).diagnostics[0]!;
  assert.match(message.message, /mode 0644/);
  assert.match(message.hint!, /chmod 600/);
});

const secretName = fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/);
const literal = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !/[{}]/.test(s));
const parts = fc.array(fc.oneof(literal.map((text) => ({ text })), secretName.map((secret) => ({ secret }))), { maxLength: 6 });

// Adjacent text parts merge when written out, so compare with them merged.
function merged(list: TemplatePart[]): TemplatePart[] {
  const out: TemplatePart[] = [];
  for (const p of list) {
    const last = out.at(-1);
    if ('text' in p && last && 'text' in last) out[out.length - 1] = { text: last.text + p.text };
    else out.push(p);
  }
  return out;
}

test('property: a template written from parts parses back to the same parts and fills each secret once', () => {
  fc.assert(fc.property(parts, (list) => {
    const written = list.map((p) => ('text' in p ? p.text : `{${p.secret}}`)).join('');
    const parsed = parseTemplate(written);
    assert.ok(parsed.ok);
    assert.equal(parsed.parts, merged(list));
    const values = new Map(list.flatMap((p) => ('secret' in p ? [[p.secret, `<${p.secret}>`] as [string, string]] : [])));
    assert.is(fillTemplate(parsed.parts, values), list.map((p) => ('text' in p ? p.text : `<${p.secret}>`)).join(''));
  }));
});

test('property: any brace that is not a {name} is an error at an offset inside the template', () => {
  fc.assert(fc.property(fc.string({ maxLength: 20 }), (text) => {
    const parsed = parseTemplate(text);
    if (parsed.ok) {
      assert.not.match(parsed.parts.filter((p) => 'text' in p).map((p) => (p as { text: string }).text).join(''), /[{}]/);
    } else {
      assert.ok(parsed.offset >= 0 && parsed.offset < text.length && '{}'.includes(text[parsed.offset]!));
    }
  }));
});

test('property: a split command never holds a shell character, and joins back to its words', () => {
  fc.assert(fc.property(fc.string({ maxLength: 30 }), (text) => {
    const split = splitCommand(text);
    if (!split.ok) {
      assert.is(text[split.offset], split.character);
      return;
    }
    for (const word of split.argv) assert.not.match(word, /[|&;<>()$`\\"'*?[\]{}~!#\s]/);
    assert.is(split.argv.join(' '), text.trim().split(/[ \t]+/).filter(Boolean).join(' '));
  }));
});

test('property: any header value written quoted on an inject line comes back as written or is a located error', () => {
  fc.assert(fc.property(fc.string({ maxLength: 16 }).filter((s) => !/[\r\n"\\\u2028\u2029\u0085]/.test(s)), (value) => {
    const source = `vm v\nsecret k from keychain s\negress a api.example.com inject x-k: "${value}{k}"\n`;
    const { diagnostics, policy } = compile(source);
    if (policy) {
      const template = policy.egress[0]!.inject![0]!.template;
      assert.is(template.map((p) => ('text' in p ? p.text : `{${p.secret}}`)).join(''), `${value}{k}`);
    } else {
      for (const d of diagnostics.filter((x) => x.severity === 'error')) assert.is(d.line, 3);
    }
  }));
});

test.run();
