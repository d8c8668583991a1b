// proxy.json, proxy.env and the proxy port in every layer, from one policy: the config the
// compiler writes is one the proxy itself accepts; the firewall opens exactly the proxy port on
// the gateway; softnet stays closed; a policy without egress gets no proxy at all.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compilePolicy } from '../../../src/compiler/compile.ts';
import { emitArtifacts } from '../../../src/compiler/emit/index.ts';
import { buildProxyConfig, emitProxyJson } from '../../../src/compiler/emit/proxy-json.ts';
import { emitProxyEnv } from '../../../src/compiler/emit/proxy-env.ts';
import { emitNftConf } from '../../../src/compiler/emit/nft-conf.ts';
import { emitAnchor } from '../../../src/compiler/emit/anchor-pf.ts';
import { tartRunArgv } from '../../../src/compiler/emit/tart-run.ts';
import { emitHosts } from '../../../src/compiler/emit/hosts.ts';
import { buildVerifyManifest } from '../../../src/compiler/emit/verify-manifest.ts';
import { parseProxyConfig } from '../../../src/formats/proxy-config.ts';
import type { Policy } from '../../../src/compiler/policy.ts';
import { FIXTURE_CWD, FIXTURE_HOME } from '../../helpers/fixture-host.ts';

function compile(source: string): Policy {
  const outcome = compilePolicy({ file: 'p.policy', source, home: FIXTURE_HOME, cwd: FIXTURE_CWD });
  assert.ok(outcome.policy, JSON.stringify(outcome.diagnostics));
  return outcome.policy!;
}

const WITH_EGRESS = 'vm agent-vm\nallow vault vault.example.test:443 via 18443 tls\nallow ha 10.0.30.5:8123 via 18123\negress claude api.example.test\negress git *.content.example.test git.example.test:8443\n';

test('proxy.json is a configuration the proxy accepts, with the subnet as clients until enforce narrows it', () => {
  const policy = compile(WITH_EGRESS);
  const parsed = parseProxyConfig(emitProxyJson(policy));
  assert.equal(parsed, buildProxyConfig(policy));
  assert.equal(parsed.listen, { host: '192.168.64.1', port: 13128 });
  assert.equal(parsed.allowClients, ['192.168.64.0/24']);
  assert.ok(parsed.denyNetworks.includes('192.168.64.0/24'), 'the VM subnet is never a destination');
  assert.equal(parsed.rules.map((r) => `${r.name} ${r.host}:${r.port}`), ['claude api.example.test:443', 'git *.content.example.test:443', 'git git.example.test:8443']);
  const narrowed = parseProxyConfig(emitProxyJson(policy, { allowClients: ['192.168.64.7/32'], denyNetworks: ['192.168.64.0/24', '198.51.100.1/32'], auditLog: '/var/run/x/a.jsonl' }));
  assert.equal(narrowed.allowClients, ['192.168.64.7/32']);
  assert.is(narrowed.auditLog, '/var/run/x/a.jsonl');
});

test('proxy.env sends HTTPS through the gateway proxy and keeps the bridges direct', () => {
  const env = emitProxyEnv(compile(WITH_EGRESS));
  assert.match(env, /^HTTPS_PROXY=http:\/\/192\.168\.64\.1:13128$/m);
  assert.match(env, /^HTTP_PROXY=http:\/\/192\.168\.64\.1:13128$/m);
  assert.match(env, /^NODE_USE_ENV_PROXY=1$/m);
  const noProxy = /^NO_PROXY=(.*)$/m.exec(env)![1]!.split(',');
  assert.ok(noProxy.includes('vault.example.test'), 'a TLS bridge name stays direct');
  assert.ok(noProxy.includes('192.168.64.1'));
  assert.not.ok(noProxy.includes('api.example.test'), 'an egress name must go through the proxy');
  assert.match(env, /launchctl setenv/);
  assert.match(env, /\.zprofile/);
  // Every non-comment line is KEY=VALUE a shell can source without quoting.
  for (const line of env.split('\n').filter((l) => l && !l.startsWith('#'))) assert.match(line, /^[A-Za-z_]+=[A-Za-z0-9_.:/,=-]+$/);
});

test('pf and nft open exactly the proxy port on the gateway, besides the bridges; softnet stays closed', () => {
  const policy = compile(WITH_EGRESS);
  assert.match(emitAnchor(policy), /^bridge_ports = "\{ 13128 18123 18443 \}"$/m);
  assert.match(emitNftConf(policy), /ip daddr 192\.168\.64\.1 tcp dport \{ 13128, 18123, 18443 \} (counter )?accept/);
  const softnet = tartRunArgv(policy).filter((a) => a.startsWith('--net-softnet'));
  assert.equal(softnet, ['--net-softnet-block=0.0.0.0/0', '--net-softnet-allow=192.168.64.1/32']);
  const manifest = buildVerifyManifest(policy);
  // The doors answer on the ports the firewall redirects (53, 443, 8443); their own high ports
  // (13129-13131) stay closed to the sweep, since only redirected packets pass to them.
  assert.equal(manifest.gatewaySweep.except, [53, 443, 8443, 13128, 18123, 18443], 'the sweep must not call the proxy port or a door a hole');
  assert.equal(manifest.egress?.proxy, { host: '192.168.64.1', port: 13128 });
  assert.equal(manifest.egress?.doors, { ports: [443, 8443], dns: 53 });
});

test('names lead to the gateway: proxy.json has a door per listed port and the responder right above the proxy; pf and nft redirect exactly those', () => {
  const policy = compile(WITH_EGRESS);
  const parsed = parseProxyConfig(emitProxyJson(policy));
  assert.equal(parsed.transparent, [{ listen: { host: '192.168.64.1', port: 13129 }, port: 443 }, { listen: { host: '192.168.64.1', port: 13130 }, port: 8443 }]);
  assert.equal(parsed.dns, { listen: { host: '192.168.64.1', port: 13131 }, answer: '192.168.64.1', ttl: 60 });
  const anchor = emitAnchor(policy);
  assert.equal(anchor.split('\n').filter((l) => l.startsWith('rdr ')), [
    'rdr inet proto tcp from $vm_net to $gw port 443 tag NP_EGRESS_DOOR -> $gw port 13129',
    'rdr inet proto tcp from $vm_net to $gw port 8443 tag NP_EGRESS_DOOR -> $gw port 13130',
    'rdr inet proto { tcp, udp } from $vm_net to $gw port 53 tag NP_EGRESS_DOOR -> $gw port 13131',
  ]);
  // Translation before filtering (pf.conf(5)); every pass to a door needs the rdr's tag.
  const lines = anchor.split('\n');
  assert.ok(lines.findIndex((l) => l.startsWith('rdr ')) < lines.findIndex((l) => l.startsWith('pass ')));
  for (const l of lines.filter((x) => /port \{? ?1313[01]/.test(x) && x.startsWith('pass'))) assert.match(l, /tagged NP_EGRESS_DOOR/);
  const nft = emitNftConf(policy);
  assert.match(nft, /tcp dport 443 counter dnat ip to 192\.168\.64\.1:13129$/m);
  assert.match(nft, /th dport 53 counter dnat ip to 192\.168\.64\.1:13131$/m);
  assert.match(nft, /th dport \{ 13129, 13130, 13131 \} ct status dnat counter accept$/m);
  // The hosts lines: exact names only, with the wildcard named as not there.
  const hosts = emitHosts(policy);
  assert.match(hosts, /^192\.168\.64\.1 api\.example\.test$/m);
  assert.match(hosts, /^192\.168\.64\.1 git\.example\.test$/m);
  assert.not.match(hosts, /^192\.168\.64\.1 \*/m);
  assert.match(hosts, /^# Not here \(a hosts file has no wildcards.*\*\.content\.example\.test$/m);
  assert.is(hosts.match(/vault\.example\.test/g)?.length, 1);
});

test('the doors take the ports right above the proxy: a bridge there, or no room below 65536, is NP266', () => {
  const clash = compilePolicy({ file: 't.policy', source: 'vm v\nallow x 10.0.0.1:1 via 13130\negress a a.example.test b.example.test:8443\n', home: '/Users/o', cwd: '/Users/o' });
  assert.ok(clash.diagnostics.some((d) => d.code === 'NP266' && /transparent door for port 8443 on port 13130, the listen port of the bridge "x"/.test(d.message)), JSON.stringify(clash.diagnostics));
  const top = compilePolicy({ file: 't.policy', source: 'vm v\nproxy via 65535\negress a a.example.test\n', home: '/Users/o', cwd: '/Users/o' });
  assert.ok(top.diagnostics.some((d) => d.code === 'NP266' && /no room above it/.test(d.message)), JSON.stringify(top.diagnostics));
});

test('a policy without egress has no proxy: no artifact, no port, no manifest entry (a proxy line alone warns)', () => {
  const policy = compile('vm agent-vm\nproxy via 13999\nallow ha 10.0.30.5:8123 via 18123\n');
  assert.is(policy.proxy, undefined);
  const names = emitArtifacts(policy).map((a) => a.name);
  assert.not.ok(names.includes('proxy.env') || names.includes('proxy.json'));
  assert.not.match(emitNftConf(policy), /13999/);
  assert.is(buildVerifyManifest(policy).egress, undefined);
  const outcome = compilePolicy({ file: 'p.policy', source: 'vm a\nproxy via 13999\n', home: FIXTURE_HOME, cwd: FIXTURE_CWD });
  assert.equal(outcome.diagnostics.map((d) => d.code), ['NP269']);
});

test.run();
