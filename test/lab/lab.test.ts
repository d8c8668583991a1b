// The lab itself: without any firewall the VM really reaches lan, wan and the host; shares keep
// their modes; teardown leaves nothing behind; the root namespace never changes.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_HOST_HOSTS, PLAN, createLab, requireLab, type Lab, type LabService, type LabTlsService, type SharesView } from './index.ts';
import { listNetns, mountsUnder } from './destroy-lab.ts';

const available = requireLab('test/lab/lab.test.ts');

const t = suite('lab: a lab without a firewall');

let lab: Lab;
let rootLinksBefore: string;
let rootRoutesBefore: string;
let lanTcp: LabService;
let hostSsh: LabService;
let wanTls: LabTlsService;
let dns: LabService;
let shares: SharesView;

// Interface names and routes of the root namespace (state flags left out: they may flap).
function rootLinks(): string {
  const out = spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' }).stdout;
  return out
    .split('\n')
    .map((l) => l.split(':').slice(0, 2).join(':'))
    .sort()
    .join('\n');
}
// Every IPv4 and IPv6 route of the root namespace, all tables.
function rootRoutes(): string {
  return ['-4', '-6'].map((f) => spawnSync('ip', [f, 'route', 'show', 'table', 'all'], { encoding: 'utf8' }).stdout).join('');
}

t.before(async () => {
  rootLinksBefore = rootLinks();
  rootRoutesBefore = rootRoutes();
  lab = await createLab();
  [lanTcp, hostSsh, wanTls, dns] = await Promise.all([
    lab.startTcpService('lan', PLAN.lan.services[0], 8443, { name: 'vault' }),
    lab.startTcpService('host', lab.gateway, 22, { name: 'host-ssh', banner: 'SSH-2.0-lab\r\n' }),
    lab.startTlsService('wan', PLAN.wan.web, 443, { name: 'public-web', names: ['web.lab.test'], ips: [PLAN.wan.web] }),
    lab.startDns('wan', PLAN.wan.dns, { 'vault.lab.test': PLAN.lan.services[0], 'web.lab.test': [PLAN.wan.web, PLAN.wan.web6] }, { name: 'public-dns' }),
  ]);
  shares = lab.shares([
    { name: 'groups', mode: 'rw', files: { 'main/CLAUDE.md': '# main\n' } },
    { name: 'scripts', mode: 'ro', files: { 'bridge.sh': '#!/bin/sh\n' } },
  ]);
});

t.after(async () => {
  await lab?.teardown();
});

t('the root namespace gained no interface and no route', () => {
  assert.is(rootLinks(), rootLinksBefore);
  assert.is(rootRoutes(), rootRoutesBefore);
});

t('every route in every lab namespace stays inside the lab ranges', async () => {
  for (const role of ['host', 'vm', 'lan', 'wan'] as const) {
    for (const family of ['-4', '-6']) {
      const r = await lab.exec(role, ['ip', '-j', family, 'route', 'show']);
      const routes = JSON.parse(r.stdout) as Array<{ dst: string; gateway?: string }>;
      for (const route of routes) {
        if (route.gateway) assert.ok(/^(192\.168\.64\.|198\.51\.100\.|203\.0\.113\.|2001:db8:)/.test(route.gateway), `${role}: ${JSON.stringify(route)}`);
        if (route.dst !== 'default') assert.ok(/^(192\.168\.64\.|198\.51\.100\.|203\.0\.113\.|2001:db8:|fe80::)/.test(route.dst), `${role}: ${JSON.stringify(route)}`);
      }
    }
  }
  const wanDefault = await lab.exec('wan', ['ip', 'route', 'show', 'default']);
  assert.is(wanDefault.stdout.trim(), '', 'wan, "the internet", must have no default route');
});

t('the gateway interface is found by its address', async () => {
  const r = await lab.exec('host', ['ip', '-o', 'addr', 'show', 'to', `${lab.gateway}/32`]);
  assert.ok(r.stdout.includes(` ${lab.vmInterface} `) || r.stdout.includes(` ${lab.vmInterface}\\`), r.stdout);
});

t('the VM reaches a lan TCP service, and the service logs the VM as client', async () => {
  const probe = await lab.probeTcp('vm', PLAN.lan.services[0], 8443);
  assert.ok(probe.ok, JSON.stringify(probe));
  if (probe.ok) assert.is(probe.banner, 'vault\n');
  const hits = lab.connections(lanTcp.name);
  assert.is(hits.length, 1);
  assert.is(hits[0]?.from, lab.vmAddress);
});

t('the VM completes a TLS handshake with a wan service, trusting the lab CA', async () => {
  const probe = await lab.probeTls('vm', PLAN.wan.web, 443, { servername: 'web.lab.test' });
  assert.ok(probe.ok, JSON.stringify(probe));
  if (probe.ok) {
    assert.is(probe.authorized, true, String(probe.authorizationError));
    assert.is(probe.spkiSha256, wanTls.spkiSha256);
  }
  assert.is(lab.handshakes(wanTls.name)[0]?.sni, 'web.lab.test');
  const impostor = lab.issueCert({ names: ['web.lab.test'], freshKey: true });
  assert.is.not(impostor.spkiSha256, wanTls.spkiSha256, 'freshKey must give a different pin');
  const wrongName = await lab.probeTls('vm', PLAN.wan.web, 443, { servername: 'vault.lab.test' });
  assert.ok(wrongName.ok && wrongName.authorized === false, 'a name not in the certificate must not verify');
});

t("the VM reaches the host's port 22 on the gateway", async () => {
  const probe = await lab.probeTcp('vm', lab.gateway, 22);
  assert.ok(probe.ok && probe.banner?.startsWith('SSH-2.0-'), JSON.stringify(probe));
  assert.is(lab.connections(hostSsh.name)[0]?.from, lab.vmAddress);
});

t('the DNS responder answers A and AAAA, NXDOMAIN for unknown names, and counts queries', async () => {
  const a = await lab.probeDns('vm', PLAN.wan.dns, 'vault.lab.test');
  assert.equal(a.ok && a.answers, [PLAN.lan.services[0]]);
  const aaaa = await lab.probeDns('vm', PLAN.wan.dns, 'web.lab.test', { type: 'AAAA' });
  assert.equal(aaaa.ok && aaaa.answers, ['2001:db8:113:0:0:0:0:10']);
  const none = await lab.probeDns('vm', PLAN.wan.dns, 'nowhere.lab.test');
  assert.is(none.ok && none.rcode, 3);
  assert.is(lab.connections(dns.name).length, 3);
});

t("the VM's resolver is the lab's, and the host resolves lab names from its hosts file", async () => {
  const vm = await lab.run('vm', 'cat /etc/resolv.conf; getent ahostsv4 vault.lab.test');
  assert.ok(vm.stdout.includes(`nameserver ${PLAN.wan.dns}`), vm.stdout);
  assert.ok(vm.stdout.includes(PLAN.lan.services[0]), vm.stdout);
  const host = await lab.exec('host', ['getent', 'hosts', 'vault.lab.test']);
  assert.match(host.stdout.trim(), /^198\.51\.100\.10\s+vault\.lab\.test$/);
});

t('IPv6 works on the vm link and through the host to wan', async () => {
  const r = await lab.run('vm', `ping -c1 -W2 ${lab.gateway6} >/dev/null && ping -c1 -W2 ${PLAN.wan.web6} >/dev/null && echo ok`);
  assert.is(r.stdout.trim(), 'ok', r.stderr);
});

t('a socat bridge on the gateway resolves its DNS-name target from the host hosts file, per connection', async () => {
  const other = await lab.startTcpService('lan', PLAN.lan.services[1], 8443, { name: 'vault-moved' });
  const bridge = lab.spawn('host', [
    'socat',
    `TCP-LISTEN:18443,bind=${lab.gateway},range=${lab.vmAddress}/32,reuseaddr,fork,max-children=8`,
    'TCP:vault.lab.test:8443',
  ]);
  await lab.waitListening('host', lab.gateway, 18443);
  const first = await lab.probeTcp('vm', lab.gateway, 18443);
  assert.ok(first.ok && first.banner === 'vault\n', JSON.stringify(first));
  lab.setHosts('host', { 'vault.lab.test': PLAN.lan.services[1] });
  const second = await lab.probeTcp('vm', lab.gateway, 18443);
  assert.ok(second.ok && second.banner === 'vault-moved\n', JSON.stringify(second));
  assert.is(lab.connections(other.name)[0]?.from, PLAN.lan.host, "socat connects from the host's lan address");
  bridge.kill('SIGKILL');
  await bridge;
  await lab.stopService(other.name);
  lab.setHosts('host', { ...DEFAULT_HOST_HOSTS });
});

t('an nft table in the host namespace stops forwarding, and only inside the lab', async () => {
  const rootBefore = spawnSync('nft', ['list', 'ruleset'], { encoding: 'utf8' }).stdout;
  const rules = 'table inet labtest {\n  chain forward_drop {\n    type filter hook forward priority 0; policy drop;\n  }\n}\n';
  const load = await lab.exec('host', ['nft', '-f', '-'], { input: rules });
  assert.is(load.exitCode, 0, load.stderr);
  const before = lab.connections(lanTcp.name).length;
  const blocked = await lab.probeTcp('vm', PLAN.lan.services[0], 8443, { timeoutMs: 400 });
  assert.is(blocked.ok ? 'open' : blocked.error, 'ETIMEDOUT');
  assert.is(lab.connections(lanTcp.name).length, before, 'the service must not have seen the VM');
  const hostPort = await lab.probeTcp('vm', lab.gateway, 22);
  assert.ok(hostPort.ok, 'a forward-only rule leaves host ports open');
  assert.is(spawnSync('nft', ['list', 'ruleset'], { encoding: 'utf8' }).stdout, rootBefore);
  await lab.exec('host', ['nft', 'delete', 'table', 'inet', 'labtest']);
  const open = await lab.probeTcp('vm', PLAN.lan.services[0], 8443);
  assert.ok(open.ok);
});

t('a ro share refuses writes from the VM, a rw share takes them', async () => {
  const rw = await lab.run('vm', `echo x > "${shares.root}/groups/new.txt"`);
  assert.is(rw.exitCode, 0, rw.stderr);
  assert.ok(existsSync(`${shares.hostDirs.groups}/new.txt`));
  const ro = await lab.run('vm', `echo x > "${shares.root}/scripts/bridge.sh"`);
  assert.is.not(ro.exitCode, 0);
  assert.match(ro.stderr, /Read-only file system/);
  assert.is(readFileSync(`${shares.hostDirs.scripts}/bridge.sh`, 'utf8'), '#!/bin/sh\n');
});

t('fault hooks: a ro share remounted rw takes writes; an undeclared share appears', async () => {
  lab.faults.remountShareRw('scripts');
  const r = await lab.run('vm', `echo evil > "${shares.root}/scripts/bridge.sh"`);
  assert.is(r.exitCode, 0, r.stderr);
  lab.faults.addUndeclaredShare({ name: 'extra', mode: 'rw' });
  const ls = await lab.run('vm', `ls "${shares.root}"`);
  assert.equal(ls.stdout.trim().split('\n'), ['extra', 'groups', 'scripts']);
});

t('the lab refuses addresses outside the lab ranges', async () => {
  try {
    await lab.probeTcp('vm', '1.1.1.1', 53);
    assert.unreachable('1.1.1.1 must be refused');
  } catch (error) {
    assert.match((error as Error).message, /outside the lab ranges/);
  }
  try {
    await lab.startTcpService('lan', '10.0.30.5', 8123);
    assert.unreachable('10.0.30.5 must be refused');
  } catch (error) {
    assert.match((error as Error).message, /outside the lab ranges/);
  }
});

t('teardown leaves no namespace, process, mount, /etc/netns entry or directory, and is idempotent', async () => {
  const pids = [lanTcp.pid, hostSsh.pid, wanTls.pid, dns.pid];
  await lab.teardown();
  await lab.teardown();
  const left = listNetns().filter((n) => n.startsWith(`${lab.id}-`));
  assert.equal(left, []);
  for (const pid of pids) assert.not.ok(existsSync(`/proc/${pid}`), `pid ${pid} still exists`);
  assert.equal(mountsUnder(lab.dir), []);
  for (const ns of Object.values(lab.ns)) assert.not.ok(existsSync(`/etc/netns/${ns}`));
  assert.not.ok(existsSync(lab.dir));
  assert.is(rootLinks(), rootLinksBefore);
});

const timing = suite('lab: timing');

// Prints the cost of a lab (the figure test/lab/README.md quotes); a time is never a failure here,
// since CI machines and loaded developer machines differ. What must hold is that each round leaves
// no namespace behind.
timing('a bare lab builds and tears down three times in a row, leaving no namespace', async () => {
  const rounds: number[] = [];
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    const l = await createLab();
    const names = Object.values(l.ns);
    await l.teardown();
    rounds.push(performance.now() - started);
    const left = listNetns();
    for (const name of names) assert.not.ok(left.includes(name), `${name} left behind`);
  }
  process.stdout.write(`\n  lab create+teardown: ${rounds.map((r) => `${r.toFixed(0)} ms`).join(', ')}\n`);
});

if (available) {
  t.run();
  timing.run();
}
