// One stalled DNS name must not starve all, in the lab, with the real proxy process: the lab's
// resolver (what the host namespace's resolv.conf names) never answers names under a listed
// wildcard; the VM floods the proxy with them; a hosts-file name and a name the resolver does
// answer must still get their tunnels at once. The proxy that resolved with getaddrinfo failed
// this: four pool threads blocked, every other name "502 name did not resolve".
// NANOPOLICY_TEST_PROXY_BUNDLE=FILE runs another build (an older one, to see it fail).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PLAN, createLab, requireLab, type Lab } from '../lab/index.ts';

const available = requireLab('the proxy\'s resolver under a stalled DNS name');
const ROOT = join(import.meta.dirname, '../..');
const BUNDLE = process.env.NANOPOLICY_TEST_PROXY_BUNDLE ?? join(ROOT, 'dist/proxy.js');
const WEB = '203.0.113.20';
const PORT = 13128;

const t = suite('proxy resolver (lab)');
let lab: Lab;
t.before(async () => {
  if (!available) return;
  lab = await createLab({ wanAddresses: [WEB], hostHosts: { 'hosts.dnslab.test': WEB } });
  await lab.startDns('wan', PLAN.wan.dns, { 'ok.dnslab.test': [WEB] }, { name: 'stalling-dns', silent: ['stall.dnslab.test'] });
  await lab.startTlsService('wan', WEB, 443, { name: 'web', names: ['ok.dnslab.test', 'hosts.dnslab.test'] });
});
t.after(() => lab?.teardown());

t('80 CONNECTs to names whose DNS never answers: a hosts-file name and a resolving name still get through at once', async () => {
  if (!available) return;
  const dir = join(lab.dir, 'resolver');
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'proxy.json');
  writeFileSync(config, JSON.stringify({
    format: 1, vm: 'dnslab', listen: { host: lab.gateway, port: PORT }, allowClients: [`${lab.vmAddress}/32`], maxConnections: 200,
    rules: [{ name: 'stall', host: '*.stall.dnslab.test', port: 443 }, { name: 'ok', host: 'ok.dnslab.test', port: 443 }, { name: 'hosts', host: 'hosts.dnslab.test', port: 443 }],
    denyNetworks: ['192.168.64.0/24'], auditLog: join(dir, 'audit.jsonl'), timeouts: { connectMs: 3000 },
  }));
  lab.spawn('host', [process.execPath, BUNDLE, '--config', config], { env: { NANOPOLICY_HOSTS_FILE: '' } });
  await lab.waitListening('host', lab.gateway, PORT);
  const flood = Array.from({ length: 80 }, (_, i) => `x${i}.stall.dnslab.test`);
  const r = await lab.exec('vm', [process.execPath, join(ROOT, 'test/proxy/resolver-client.mjs'), JSON.stringify({
    host: lab.gateway, port: PORT, flood, honest: ['hosts.dnslab.test', 'ok.dnslab.test'], ca: lab.ca.path })], { timeoutMs: 60_000 });
  assert.is(r.exitCode, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { honest: Array<{ name: string; ok: boolean; status: string; ms: number }>; flood: string[] };
  for (const h of out.honest) {
    assert.ok(h.ok, `${h.name}: ${h.status} after ${h.ms.toFixed(0)} ms`);
    assert.ok(h.ms < 1500, `${h.name} took ${h.ms.toFixed(0)} ms while the flood stalled`);
  }
  // The attack really reached the resolver and stalled there; the hosts-file name never asked it.
  const dns = lab.hits('stalling-dns') as unknown as Array<{ kind: string; qname: string }>;
  assert.ok(dns.some((q) => q.kind === 'dropped' && q.qname.endsWith('.stall.dnslab.test')), 'stalled queries');
  assert.ok(!dns.some((q) => q.qname === 'hosts.dnslab.test'), 'the hosts-file name was not asked of DNS');
  assert.ok(out.flood.every((s) => /^HTTP\/1\.1 50[23]/.test(s)), out.flood.join(', '));
});

t.run();
