// explain and the egress proxy: a listed name is reachable through the proxy on the gateway with
// every layer's line cited truly; an unlisted name, another port, a wildcard's bare suffix and an
// IP address are refused by it; a policy without egress is explained as before.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import dns from 'node:dns';
import { compilePolicy } from '../../src/compiler/compile.ts';
import { emitArtifacts } from '../../src/compiler/emit/index.ts';
import type { Artifact } from '../../src/compiler/artifact.ts';
import type { Policy } from '../../src/compiler/policy.ts';
import { explain, type ExplainContext, type FirewallBackend } from '../../src/explain/explain.ts';
import type { Explanation } from '../../src/explain/layer.ts';
import { runCli } from '../helpers/run-cli.ts';

const HOME = '/Users/owner';
const BASE = ['vm proxy-vm', 'allow web 198.51.100.7:443 via 18443 tls', 'mount work ~/work rw'];
const EGRESS = ['egress api api.example.test *.cdn.example.test', 'egress alt alt.example.test:8443', 'proxy via 13000'];

function compiled(lines: string[]): { policy: Policy; artifacts: Artifact[] } {
  const out = compilePolicy({ file: 't.policy', source: `${lines.join('\n')}\n`, home: HOME, cwd: HOME });
  assert.ok(out.policy, JSON.stringify(out.diagnostics));
  return { policy: out.policy!, artifacts: [...emitArtifacts(out.policy!)] };
}
const withEgress = compiled([...BASE, ...EGRESS]);
const without = compiled(BASE);
const ctx = (c: { policy: Policy; artifacts: Artifact[] }, backend: FirewallBackend = 'pf'): ExplainContext => ({ ...c, backend, cwd: '/tmp' });
const test = suite('explain-proxy');

// The 1-based line of `line` in the policy text (so tests follow the policy as written here).
const policyLine = (text: string) => [...BASE, ...EGRESS].indexOf(text) + 1;

// Every cited artifact line is that line of the emitted artifact, word for word.
function citedLinesAreReal(e: Explanation, artifacts: Artifact[]): void {
  for (const r of e.routes) {
    for (const l of r.layers) {
      if (!l.artifactLine) continue;
      const a = artifacts.find((x) => x.name === l.artifactLine!.artifact);
      assert.ok(a, l.artifactLine.artifact);
      assert.is(a!.content.split('\n')[l.artifactLine.line - 1]!.trim(), l.artifactLine.text);
    }
  }
}

const proxyRoute = (e: Explanation) => e.routes.find((r) => r.name === 'egress proxy');

test('a listed name is reachable through the proxy, each layer citing its true line (pf and nft)', () => {
  for (const backend of ['pf', 'nft'] as const) {
    for (const target of ['api.example.test:443', 'api.example.test', 'API.Example.test.']) {
      const e = explain(ctx(withEgress, backend), target);
      const line = policyLine('egress api api.example.test *.cdn.example.test');
      assert.ok(e.summary.startsWith(`${target} is reachable only by name through the transparent door on 192.168.64.1:443 (the name resolves to the gateway in the VM; TLS server name checked), or by name through the egress proxy on 192.168.64.1:13000 (egress "api", policy line ${line}); directly it is blocked by softnet (block 0.0.0.0/0, tart-run.sh:`), `${target} ${backend}: ${e.summary}`);
      // The transparent door: the firewall redirects gateway:443 to the door's port, and the door
      // applies the proxy's own rules to the TLS server name.
      const door = e.routes.find((r) => r.name === 'transparent door')!;
      assert.equal(door.layers.map((l) => [l.layer, l.verdict]), [['softnet', 'pass'], [backend, 'pass'], ['door', 'pass']]);
      assert.is(door.layers[1]!.redirect!.port, 13001);
      assert.match(door.layers[1]!.redirect!.artifactLine.text, backend === 'pf' ? /^rdr inet proto tcp from \$vm_net to \$gw port 443 tag NP_EGRESS_DOOR -> \$gw port 13001$/ : /tcp dport 443 counter dnat ip to 192\.168\.64\.1:13001$/);
      assert.match(door.layers[1]!.artifactLine!.text, backend === 'pf' ? /tagged NP_EGRESS_DOOR/ : /ct status dnat/);
      assert.ok(e.notes.some((n) => /DNS responder \(port 13003\); it answers 192\.168\.64\.1 \(egress "api"/.test(n)), e.notes.join('\n'));
      // Directly, both softnet and the host firewall refuse it, each citing its line (the nft
      // layer once skipped every rule with a `counter` and let everything pass).
      assert.equal(e.routes[0]!.layers.map((l) => [l.layer, l.verdict, l.artifactLine?.artifact]), [['softnet', 'block', 'tart-run.sh'], [backend, 'block', backend === 'pf' ? 'anchor.pf' : 'nft.conf']]);
      const p = proxyRoute(e)!;
      assert.is(p.as, '192.168.64.1:13000');
      assert.equal(p.layers.map((l) => [l.layer, l.verdict]), [['softnet', 'pass'], [backend, 'pass'], ['proxy', 'pass']]);
      assert.is(p.layers[0]!.artifactLine!.text, '--net-softnet-allow=192.168.64.1/32 \\');
      // The firewall line cited is the one that opens the proxy's port (gatewayPorts()).
      const fw = p.layers[1]!.artifactLine!;
      const art = withEgress.artifacts.find((a) => a.name === fw.artifact)!.content;
      assert.ok(backend === 'pf' ? /bridge_ports/.test(fw.text) && /\b13000\b/.test(art.split('\n').find((l) => l.startsWith('bridge_ports'))!) : /\b13000\b/.test(fw.text), fw.text);
      const proxy = p.layers[2]!;
      assert.is(proxy.policyLine, line);
      assert.equal(proxy.artifactLine && [proxy.artifactLine.artifact, proxy.artifactLine.text], ['proxy.json', '"host": "api.example.test",']);
      assert.ok(e.notes.some((n) => /resolves api\.example\.test on the host/.test(n) && /loopback/.test(n) && /TLS server name/.test(n)));
      citedLinesAreReal(e, withEgress.artifacts);
    }
  }
});

test('another port of a listed name is refused, naming the rule for that name', () => {
  const e = explain(ctx(withEgress), 'api.example.test:8443');
  const p = proxyRoute(e)!;
  assert.is(p.reaches, false);
  const proxy = p.layers.at(-1)!;
  assert.equal([proxy.layer, proxy.verdict, proxy.policyLine], ['proxy', 'block', policyLine('egress api api.example.test *.cdn.example.test')]);
  assert.match(e.summary, /^api\.example\.test:8443 is not reachable from the VM: .*; the egress proxy refuses api\.example\.test:8443 \(port 8443 not listed for this name \(listed: 443\); nearest: egress "api" api\.example\.test:443/);
  citedLinesAreReal(e, withEgress.artifacts);
  // And the other way round: alt is listed on 8443 only.
  assert.is(proxyRoute(explain(ctx(withEgress), 'alt.example.test:443'))!.reaches, false);
  assert.is(proxyRoute(explain(ctx(withEgress), 'alt.example.test:8443'))!.reaches, true);
});

test('an unlisted name is refused with the nearest rule; look-alikes do not match', () => {
  for (const name of ['evil.example.test', 'api.example.test.evil.test', 'xapi.example.test', 'badcdn.example.test', 'other.test']) {
    const e = explain(ctx(withEgress), `${name}:443`);
    assert.is(proxyRoute(e)!.reaches, false, name);
    assert.match(e.summary, `the egress proxy refuses ${name}:443 (no egress rule lists the name; nearest: egress `);
    assert.is(e.routes.some((r) => r.reaches), false, name);
    citedLinesAreReal(e, withEgress.artifacts);
  }
});

test('a wildcard matches names strictly below its suffix, never the bare suffix', () => {
  for (const name of ['a.cdn.example.test', 'a.b.cdn.example.test']) {
    const e = explain(ctx(withEgress), `${name}:443`);
    assert.is(proxyRoute(e)!.reaches, true, name);
    assert.is(proxyRoute(e)!.layers.at(-1)!.artifactLine!.text, '"host": "*.cdn.example.test",');
    citedLinesAreReal(e, withEgress.artifacts);
  }
  const bare = explain(ctx(withEgress), 'cdn.example.test:443');
  assert.is(proxyRoute(bare)!.reaches, false);
  assert.match(bare.summary, '*.cdn.example.test matches only names strictly below cdn.example.test, never cdn.example.test itself; nearest: egress "api" *.cdn.example.test:443');
  citedLinesAreReal(bare, withEgress.artifacts);
});

test('an IP address never goes through the proxy: it refuses IP literals', () => {
  for (const target of ['203.0.113.9:443', '198.51.100.7:443', '[2001:db8::1]:443', '203.0.113.9']) {
    const e = explain(ctx(withEgress), target);
    const p = proxyRoute(e)!;
    assert.is(p.reaches, false, target);
    assert.is(p.layers.at(-1)!.brief, 'the egress proxy refuses IP literals');
    assert.match(e.summary, /; the egress proxy refuses IP literals\.$/, target);
  }
  // A bridge target stays reachable through its bridge; the proxy is named as no way there.
  assert.match(explain(ctx(withEgress), '198.51.100.7:443').summary, /reachable only as 192\.168\.64\.1:18443 through the bridge "web"/);
});

test("the proxy's own port on the gateway is open; other gateway ports are not", () => {
  const e = explain(ctx(withEgress), '192.168.64.1:13000');
  assert.is(e.routes.length, 1);
  assert.is(e.routes[0]!.reaches, true);
  assert.match(e.summary, /is open to the VM: the egress proxy listens there/);
  assert.is(explain(ctx(withEgress), '192.168.64.1:13001').routes[0]!.reaches, false);
  assert.ok(explain(ctx(withEgress), '192.168.64.1').notes.some((n) => n.includes("the egress proxy's port 13000")));
});

test('a policy without egress: no proxy route, and the answers are as before', () => {
  for (const target of ['api.example.test:443', '203.0.113.9:443', '198.51.100.7:443', '192.168.64.1:13000']) {
    const e = explain(ctx(without), target);
    assert.is(proxyRoute(e), undefined, target);
    assert.not.match(e.summary, 'proxy');
    assert.is(e.routes[0]!.reaches, false);
    assert.ok(!e.routes[0]!.layers.some((l) => l.layer === 'proxy'));
  }
  assert.is(explain(ctx(without), 'api.example.test:443').summary.startsWith('api.example.test:443 is not reachable from the VM: blocked by softnet'), true);
  assert.ok(!explain(ctx(without), 'api.example.test').notes.some((n) => n.includes('egress proxy')));
});

test('explain never resolves the name it lets through the proxy', () => {
  const saved = { lookup: dns.lookup, resolve: dns.resolve, plookup: dns.promises.lookup };
  const refuse = () => {
    throw new Error('explain resolved a name');
  };
  Object.assign(dns, { lookup: refuse, resolve: refuse });
  Object.assign(dns.promises, { lookup: refuse });
  try {
    assert.is(proxyRoute(explain(ctx(withEgress), 'a.cdn.example.test:443'))!.reaches, true);
  } finally {
    Object.assign(dns, { lookup: saved.lookup, resolve: saved.resolve });
    Object.assign(dns.promises, { lookup: saved.plookup });
  }
});

test('CLI --json carries the proxy route for the bundled policy', async () => {
  const r = await runCli(['explain', 'policy/nanoclaw.policy', 'api.anthropic.com:443', '--json', '--home', HOME]);
  assert.is(r.code, 0);
  const out = JSON.parse(r.stdout);
  assert.match(out.summary, 'reachable only by name through the transparent door on 192.168.64.1:443');
  assert.match(out.summary, 'or by name through the egress proxy on 192.168.64.1:');
  const proxy = out.routes.find((x: { name: string }) => x.name === 'egress proxy');
  assert.is(proxy.reaches, true);
  assert.is(proxy.layers[2].artifactLine.artifact, 'proxy.json');
  const text = await runCli(['explain', 'policy/nanoclaw.policy', '203.0.113.9:443', '--home', HOME]);
  assert.match(text.stdout, 'the egress proxy refuses IP literals');
});

test.run();
