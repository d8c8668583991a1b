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
  assert.equal(manifest.gatewaySweep.except, [13128, 18123, 18443], 'the sweep must not call the proxy port a hole');
  assert.equal(manifest.egress?.proxy, { host: '192.168.64.1', port: 13128 });
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
