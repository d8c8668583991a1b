// The proxy's config file: defaults filled in, and every mistake refused with a message that
// names the field, because `enforce` writes it but an owner may read or hand-edit it.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { PROXY_DEFAULTS, parseProxyConfig } from '../../src/proxy/config.ts';

const BASE = {
  format: 1,
  vm: 'nanoclaw',
  listen: { host: '192.168.64.1', port: 13128 },
  allowClients: ['192.168.64.2/32'],
  rules: [{ name: 'claude', host: 'api.anthropic.com', port: 443 }, { name: 'gh', host: '*.githubusercontent.com', port: 443 }],
  auditLog: '/var/db/nanopolicy/nanoclaw/proxy-audit.jsonl',
};
const parse = (o: object): ReturnType<typeof parseProxyConfig> => parseProxyConfig(JSON.stringify(o));

test('config: a minimal file gets every default', () => {
  const c = parse(BASE);
  assert.is(c.maxConnections, PROXY_DEFAULTS.maxConnections);
  assert.is(c.auditRotateBytes, 10 * 1024 * 1024);
  assert.is(c.maxHeaderBytes, 8192);
  assert.equal(c.timeouts, { ...PROXY_DEFAULTS.timeouts });
  assert.equal(c.denyNetworks, []);
  assert.equal(c.rules, BASE.rules);
  const full = parse({ ...BASE, maxConnections: 3, denyNetworks: ['192.168.64.0/24', '2001:db8:64::/64'], timeouts: { idleMs: 5 } });
  assert.is(full.maxConnections, 3);
  assert.is(full.timeouts.idleMs, 5);
  assert.is(full.timeouts.headerMs, PROXY_DEFAULTS.timeouts.headerMs);
});

test('config: transparent doors and the DNS responder\'s settings are read when present, absent otherwise', () => {
  const c = parse({ ...BASE, transparent: [{ listen: { host: '192.168.64.1', port: 13443 }, port: 443 }, { listen: { host: '192.168.64.1', port: 13444 }, port: 8443 }],
    dns: { listen: { host: '192.168.64.1', port: 53 }, answer: '192.168.64.1', ttl: 60 } });
  assert.equal(c.transparent, [{ listen: { host: '192.168.64.1', port: 13443 }, port: 443 }, { listen: { host: '192.168.64.1', port: 13444 }, port: 8443 }]);
  assert.equal(c.dns, { listen: { host: '192.168.64.1', port: 53 }, answer: '192.168.64.1', ttl: 60 });
  assert.ok(!('transparent' in parse(BASE)) && !('dns' in parse(BASE)));
  assert.is(parse(BASE).timeouts.stallMs, 30_000);
});

test('config: each mistake is refused with the field named', () => {
  const cases: Array<[unknown, RegExp]> = [
    ['not json', /not valid JSON/],
    [[], /"proxy config" must be an object/],
    [{ ...BASE, format: 2 }, /"format" must be 1/],
    [{ ...BASE, extra: 1 }, /unknown key "extra"/],
    [{ ...BASE, vm: '' }, /"vm" must not be empty/],
    [{ ...BASE, listen: { host: '0.0.0.0', port: 13128 } }, /not 0\.0\.0\.0/],
    [{ ...BASE, listen: { host: 'gateway', port: 13128 } }, /IPv4 address/],
    [{ ...BASE, listen: { host: '192.168.64.1', port: 0 } }, /listen\.port/],
    [{ ...BASE, listen: { host: '192.168.64.1', port: 13128.5 } }, /listen\.port/],
    [{ ...BASE, allowClients: [] }, /at least one/],
    [{ ...BASE, allowClients: ['192.168.64.2/24'] }, /host bits/],
    [{ ...BASE, denyNetworks: ['10.0.0.0/40'] }, /longer than 32/],
    [{ ...BASE, rules: [{ name: 'x', host: '127.0.0.1', port: 443 }] }, /IP address/],
    [{ ...BASE, rules: [{ name: 'x', host: '0x7f000001', port: 443 }] }, /IP address/],
    [{ ...BASE, rules: [{ name: 'x', host: 'API.anthropic.com', port: 443 }] }, /lowercase/],
    [{ ...BASE, rules: [{ name: 'x', host: 'api.anthropic.com.', port: 443 }] }, /trailing dot/],
    [{ ...BASE, rules: [{ name: 'x', host: '*.com', port: 443 }] }, /single label/],
    [{ ...BASE, rules: [{ name: 'x', host: '*', port: 443 }] }, /not a valid name/],
    [{ ...BASE, rules: [{ name: 'x', host: 'a.*.example.com', port: 443 }] }, /not a valid name/],
    [{ ...BASE, rules: [{ name: 'x', host: 'localhost', port: 443 }] }, /single label/],
    [{ ...BASE, rules: [{ name: 'x', host: 'a.example.com', port: 70000 }] }, /rules\[0\]\.port/],
    [{ ...BASE, rules: [{ name: 'x', host: 'a.example.com', port: 443 }, { name: 'y', host: 'a.example.com', port: 443 }] }, /listed twice/],
    [{ ...BASE, rules: [{ name: '', host: 'a.example.com', port: 443 }] }, /name" must not be empty/],
    [{ ...BASE, rules: [{ name: 'x', host: 'a.example.com', port: 443, sni: false }] }, /unknown key "rules\[0\]\.sni"/],
    [{ ...BASE, auditLog: 'audit.jsonl' }, /absolute path/],
    [{ ...BASE, timeouts: { idleMs: 0 } }, /timeouts\.idleMs/],
    [{ ...BASE, timeouts: { slowMs: 1 } }, /unknown key "timeouts\.slowMs"/],
    [{ ...BASE, maxConnections: 0 }, /maxConnections/],
    [{ ...BASE, maxHeaderBytes: 10 }, /maxHeaderBytes/],
    [{ ...BASE, transparent: {} }, /"transparent" must be an array/],
    [{ ...BASE, transparent: [{ listen: { host: '0.0.0.0', port: 13443 }, port: 443 }] }, /transparent\[0\]\.listen\.host" must be the gateway address/],
    [{ ...BASE, transparent: [{ listen: { host: '192.168.64.1', port: 13128 }, port: 443 }] }, /already used by another listener/],
    [{ ...BASE, transparent: [{ listen: { host: '192.168.64.1', port: 13443 }, port: 443 }, { listen: { host: '192.168.64.1', port: 13444 }, port: 443 }] }, /443 has a transparent door already/],
    [{ ...BASE, transparent: [{ listen: { host: '192.168.64.1', port: 13443 }, port: 0 }] }, /transparent\[0\]\.port/],
    [{ ...BASE, transparent: [{ listen: { host: '192.168.64.1', port: 13443 }, port: 443, sni: true }] }, /unknown key "transparent\[0\]\.sni"/],
    [{ ...BASE, dns: { listen: { host: '192.168.64.1', port: 53 }, answer: 'gateway', ttl: 60 } }, /"dns\.answer" must be an IPv4 address/],
    [{ ...BASE, dns: { listen: { host: '192.168.64.1', port: 53 }, answer: '192.168.64.1', ttl: -1 } }, /dns\.ttl/],
    [{ ...BASE, dns: { listen: { host: '192.168.64.1', port: 53 }, answer: '192.168.64.1' } }, /dns\.ttl/],
    [{ ...BASE, timeouts: { stallMs: 0 } }, /timeouts\.stallMs/],
  ];
  for (const [value, message] of cases) {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    assert.throws(() => parseProxyConfig(text), (e: Error) => message.test(e.message) && e.message.startsWith('proxy config') && !e.message.includes('\n'),
      `${text.slice(0, 80)} → ${message}`);
  }
});

test('config fuzz: any JSON value is accepted or refused with an Error, never anything else', () => {
  fc.assert(fc.property(fc.jsonValue(), (value) => {
    try {
      parseProxyConfig(JSON.stringify(value));
    } catch (error) {
      assert.instance(error, Error);
    }
  }), { seed: 3, numRuns: 1000, interruptAfterTimeLimit: 2000 });
});

test.run();
