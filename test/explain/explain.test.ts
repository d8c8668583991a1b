// explain: the owner's questions against the bundled policy, every cited artifact line checked
// against the artifact's real text, and a property test that explain's answer is the policy's.

import { egressDoors } from '../../src/compiler/egress-doors.ts';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import dns from 'node:dns';
import { readFileSync } from 'node:fs';
import { compilePolicy } from '../../src/compiler/compile.ts';
import { emitArtifacts } from '../../src/compiler/emit/index.ts';
import type { Policy } from '../../src/compiler/policy.ts';
import { explain, type ExplainContext, type FirewallBackend } from '../../src/explain/explain.ts';
import type { Explanation } from '../../src/explain/layer.ts';
import { parseAnchor } from '../../src/explain/pf-layer.ts';
import { runCli } from '../helpers/run-cli.ts';

const HOME = '/Users/owner';
const FILE = 'policy/nanoclaw.policy';
const policy = compilePolicy({ file: FILE, source: readFileSync(FILE, 'utf8'), home: HOME, cwd: '/Users/owner/.config/nanopolicy' }).policy as Policy;
const artifacts = emitArtifacts(policy);
const ctx = (backend: FirewallBackend = 'pf'): ExplainContext => ({ policy, artifacts, backend, cwd: '/tmp' });
const test = suite('explain');

// Every artifact line an explanation cites is that line of the emitted artifact, word for word.
function citedLinesAreReal(e: Explanation): void {
  for (const r of e.routes) {
    for (const l of r.layers) {
      if (!l.artifactLine) continue;
      const a = artifacts.find((x) => x.name === l.artifactLine!.artifact);
      assert.ok(a, l.artifactLine.artifact);
      assert.is(a!.content.split('\n')[l.artifactLine.line - 1]!.trim(), l.artifactLine.text);
    }
  }
}

test("the issue's example: 10.0.30.5:8123 only through the homeassistant bridge", () => {
  const e = explain(ctx(), '10.0.30.5:8123');
  const haLine = policy.bridges.find((b) => b.name === 'homeassistant')!.span.line;
  // The artifact lines are looked up here too, so the test follows the emitters as explain does.
  const lineOf = (name: string, pick: (l: string) => boolean) => artifacts.find((a) => a.name === name)!.content.split('\n').findIndex((l) => !l.trimStart().startsWith('#') && pick(l)) + 1;
  const block = lineOf('tart-run.sh', (l) => l.includes('--net-softnet-block=0.0.0.0/0'));
  const last = lineOf('anchor.pf', (l) => l.startsWith('block return in log quick inet from $vm_net to any'));
  assert.ok(block > 0 && last > 0);
  // The bundled policy lists egress: an address never goes through the proxy, and the answer says so.
  assert.is(e.summary, `10.0.30.5:8123 is reachable only as 192.168.64.1:18123 through the bridge "homeassistant" (policy line ${haLine}); directly it is blocked by softnet (block 0.0.0.0/0, tart-run.sh:${block}) and pf (anchor.pf:${last}); the egress proxy refuses IP literals.`);
  const [direct, bridge, proxy] = e.routes;
  assert.is(proxy!.name, 'egress proxy');
  assert.is(proxy!.reaches, false);
  assert.equal(direct!.layers.map((l) => [l.layer, l.verdict]), [['softnet', 'block'], ['pf', 'block']]);
  assert.is(direct!.layers[0]!.artifactLine!.text, '--net-softnet-block=0.0.0.0/0 \\');
  assert.match(direct!.layers[1]!.artifactLine!.text, /^block return in log quick inet from \$vm_net to any/);
  assert.equal(bridge!.layers.map((l) => [l.layer, l.verdict, l.policyLine]), [['softnet', 'pass', undefined], ['pf', 'pass', haLine], ['bridge', 'pass', haLine]]);
  citedLinesAreReal(e);
});

test('host services on the gateway are refused: ssh, DNS, SMB, screen sharing', () => {
  for (const port of [22, 445, 548, 5900, 7000, 13131]) {
    const e = explain(ctx(), `192.168.64.1:${port}`);
    assert.is(e.routes[0]!.reaches, false, `port ${port}`);
    assert.is(e.routes[0]!.layers.find((l) => l.layer === 'pf')!.verdict, 'block');
    citedLinesAreReal(e);
  }
  // 53 is redirected to nanopolicy's own DNS responder (the bundled policy lists egress), which
  // answers the policy's names only: open, but to nothing else that runs on the Mac.
  const dns = explain(ctx(), '192.168.64.1:53');
  assert.match(dns.summary, /DNS responder answers there, only the policy's names .* forwarding nothing/);
  const pf = dns.routes[0]!.layers.find((l) => l.layer === 'pf')!;
  assert.match(pf.redirect!.artifactLine.text, /^rdr inet proto \{ tcp, udp \} from \$vm_net to \$gw port 53 tag NP_EGRESS_DOOR -> \$gw port \d+$/);
  citedLinesAreReal(dns);
});

test('a name is never resolved, and is blocked directly whatever it resolves to', () => {
  const saved = { lookup: dns.lookup, resolve: dns.resolve, plookup: dns.promises.lookup };
  const refuse = () => {
    throw new Error('explain resolved a name');
  };
  Object.assign(dns, { lookup: refuse, resolve: refuse });
  Object.assign(dns.promises, { lookup: refuse });
  try {
    const e = explain(ctx(), 'bitwarden.cstrube.de');
    assert.is(e.routes[0]!.reaches, false);
    assert.is(e.routes[1]!.name, 'bridge vaultwarden');
    assert.is(e.routes[1]!.as, '192.168.64.1:18443');
    // Listed under `egress claude`: reachable by name through the proxy, never directly.
    const claude = policy.egress.find((r) => r.name === 'claude')!.span.line;
    const other = explain(ctx(), 'api.anthropic.com:443');
    assert.equal(other.routes.map((r) => [r.name, r.reaches]), [['direct', false], ['transparent door', true], ['egress proxy', true]]);
    assert.match(other.summary, `api.anthropic.com:443 is reachable only by name through the transparent door on 192.168.64.1:443 (the name resolves to the gateway in the VM; TLS server name checked), or by name through the egress proxy on 192.168.64.1:${policy.proxy!.listen} (egress "claude", policy line ${claude}); directly it is blocked by`);
    const unlisted = explain(ctx(), 'evil.anthropic.com:443');
    assert.match(unlisted.summary, 'is not reachable from the VM');
    assert.match(unlisted.summary, 'the egress proxy refuses evil.anthropic.com:443 (no egress rule lists the name; nearest: egress "claude"');
    citedLinesAreReal(e);
    citedLinesAreReal(other);
    citedLinesAreReal(unlisted);
  } finally {
    Object.assign(dns, { lookup: saved.lookup, resolve: saved.resolve });
    Object.assign(dns.promises, { lookup: saved.plookup });
  }
});

test('IPv6 is dropped by softnet and refused by the anchor', () => {
  const e = explain(ctx(), '[2001:db8::1]:443');
  assert.equal(e.routes[0]!.layers.map((l) => l.verdict), ['block', 'block']);
  assert.match(e.routes[0]!.layers[1]!.artifactLine!.text, 'inet6');
});

test('paths: ~/.ssh is not visible and the nearest share is named; inside a share, its mode', () => {
  const ssh = explain(ctx(), '~/.ssh');
  assert.match(ssh.summary, /^~\/\.ssh is not visible to the VM: no share holds it; the nearest is "groups"/);
  assert.ok(ssh.notes.some((n) => n.includes('looks secret')));
  const script = explain(ctx(), '~/nanoclaw/scripts/bridges.sh');
  const scriptsLine = policy.mounts.find((m) => m.name === 'scripts')!.span.line;
  assert.is(script.summary, `~/nanoclaw/scripts/bridges.sh is visible to the VM as "/Volumes/My Shared Files/scripts/bridges.sh", read-only (share "scripts", policy line ${scriptsLine}).`);
  citedLinesAreReal(script);
  const parent = explain(ctx(), '~/nanoclaw');
  assert.is(parent.routes[0]!.reaches, false);
  assert.is(parent.notes.filter((n) => n.startsWith('Inside it, the share')).length, 4);
  // A path that only starts like a share is not in it.
  assert.is(explain(ctx(), '~/nanoclaw/groups-old').routes[0]!.reaches, false);
});

test('a name nothing lets through: the note names the egress line that would', () => {
  const e = explain(ctx(), 'api.unlisted.example:443');
  assert.is(e.routes.some((r) => r.reaches), false);
  assert.ok(e.notes.includes('To let the VM reach it by name over HTTPS, add the line "egress unlisted api.unlisted.example" (enforce then runs a proxy for it, which checks every address the name resolves to and the TLS server name); an internal service is an "allow … via PORT" bridge instead.'), e.notes.join('\n'));
  assert.ok(explain(ctx(), 'git.unlisted.example:8443').notes.some((n) => n.includes('"egress unlisted git.unlisted.example:8443"')));
  // An address is never told to use egress (the proxy takes names only), nor a name that is reachable.
  assert.not.ok(explain(ctx(), '203.0.113.9:443').notes.some((n) => n.includes('add the line')));
});

test('a .env inside a share: visible, and the note says so — never that the compiler refuses it', () => {
  const env = explain(ctx(), '~/nanoclaw/groups/main/.env');
  assert.is(env.routes[0]!.reaches, true);
  assert.match(env.summary, 'is visible to the VM as "/Volumes/My Shared Files/groups/main/.env", read-write');
  assert.equal(env.notes, ['".env" looks secret (pattern ".env") and the VM can read and change it through the share "groups"; check warns of it (NP252). Move it out of the shared folder.']);
  assert.not.ok(env.notes.some((n) => n.includes('refuse')), 'one truth: it is shared, so nothing refused it');
  const ro = explain(ctx(), '~/nanoclaw/scripts/id_rsa');
  assert.match(ro.notes[0]!, 'can read it through the share "scripts"');
  const outside = explain(ctx(), '~/nanoclaw/.env');
  assert.is(outside.routes[0]!.reaches, false);
  assert.match(outside.notes[0]!, 'no share shows it, and a mount of it would be refused (NP247)');
});

test('property: explain says reachable exactly when the policy allows it (pf and nft)', () => {
  // The gateway's open ports: the bridges' and the egress proxy's (gatewayPorts()), and the ports
  // redirected to the egress doors (443 and 53); never the doors' own high ports.
  const doors = egressDoors(policy)!;
  const listens = new Set([...policy.bridges.map((b) => b.listen), ...(policy.proxy ? [policy.proxy.listen] : []), ...doors.transparent.map((d) => d.port), 53]);
  const address = fc.oneof(
    fc.constant('192.168.64.1'),
    fc.nat(255).map((n) => `192.168.64.${n}`),
    fc.ipV4(),
  );
  const port = fc.oneof(fc.constantFrom(...listens, 22, 53, 67, 443, 8123, ...doors.transparent.map((d) => d.listen), doors.dns), fc.integer({ min: 1, max: 65535 }));
  for (const backend of ['pf', 'nft'] as const) {
    fc.assert(
      fc.property(address, port, (a, p) => {
        if (a.split('.').some((x) => x.length > 1 && x.startsWith('0'))) return;
        const e = explain(ctx(backend), `${a}:${p}`);
        assert.is(e.routes[0]!.reaches, a === '192.168.64.1' && listens.has(p), `${a}:${p} via ${backend}`);
        citedLinesAreReal(e);
      }),
      { seed: 42, numRuns: 300, interruptAfterTimeLimit: 4000 },
    );
  }
});

test('an anchor line explain cannot read is an error, never skipped', () => {
  assert.throws(() => parseAnchor('pass in quick inet from any to any rdr-to 1.2.3.4\n'), /cannot read/);
});

test('CLI: text, --json, bad targets exit 64, a broken policy exits 1', async () => {
  const text = await runCli(['explain', FILE, '192.168.64.1:22', '--home', HOME]);
  assert.is(text.code, 0);
  assert.match(text.stdout, '192.168.64.1:22 is not reachable from the VM');
  const json = await runCli(['explain', FILE, '10.0.40.100:6443', '--json', '--home', HOME, '--backend', 'nft']);
  const out = JSON.parse(json.stdout);
  assert.is(out.routes[1].name, 'bridge kubernetes');
  assert.is(out.routes[0].layers[1].layer, 'nft');
  for (const bad of ['10.0.30.5:0', '10.0.30.5:99999', '300.1.1.1:80', 'a b', '[zz]:1']) {
    const r = await runCli(['explain', FILE, bad, '--home', HOME]);
    assert.is(r.code, 64, bad);
    assert.not.match(r.stderr, /\n\s+at /);
  }
  assert.is((await runCli(['explain', 'test/fixtures/invalid/duplicate-vm.policy', '1.1.1.1:1'])).code, 1);
  assert.match((await runCli(['explain', '--help'])).stdout, 'Examples:');
});

test.run();
