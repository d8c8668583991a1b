// enforce --backend nft for real, as root, in the lab's namespaces (test/lab): the VM reaches each
// bridge's target through socat and nothing else; --down removes the table and the socat
// processes; a port already taken, or a bridge failing after the table is loaded, leaves nothing.
// Crashes: everything killed abruptly is a fresh start; a half-standing state is refused with the
// exact commands. Names: a bridge name resolving to loopback or the gateway is refused; a
// rebinding after the start is caught by --supervise.

import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cliArgs } from '../helpers/cli-process.ts';
import { PLAN, createLab, requireLab, rewriteInPlace, type Lab } from '../lab/index.ts';
import { alive } from './harness.ts';

// A socat that is gone: not there, or a zombie its new parent (init, after enforce exited) has not
// reaped yet — dead all the same, holding no port.
function running(pid: number): boolean {
  if (!alive(pid)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

const available = requireLab('enforce --backend nft');
const ROOT = join(import.meta.dirname, '..', '..');
const CLI = await cliArgs();
const TABLE = 'nanopolicy_lab_vm';
const [ALPHA, BETA] = [PLAN.lan.services[0]!, PLAN.lan.services[1]!];

const t = suite('enforce --backend nft (lab)');
let lab: Lab;
let dir: string;
let policy: string;
let stateDir: string;

t.before(async () => {
  lab = await createLab();
  await lab.startTcpService('lan', ALPHA, 8080, { name: 'alpha-svc' });
  await lab.startTcpService('lan', BETA, 9090, { name: 'beta-svc' });
  await lab.startTcpService('host', lab.gateway, 22, { name: 'host-ssh', banner: 'SSH-2.0-lab\r\n' });
  await lab.startTcpService('wan', PLAN.wan.web, 80, { name: 'wan-web' });
  dir = mkdtempSync(join(tmpdir(), 'np-nft-'));
  policy = join(dir, 'lab.policy');
  // beta's target is a name: socat resolves it per connection in the host namespace (hosts file).
  writeFileSync(policy, `vm lab-vm\nallow alpha ${ALPHA}:8080 via 18080\nallow beta ha.lab.test:9090 via 18090\n`);
});
t.after(() => {
  lab?.teardown();
  if (dir) rmSync(dir, { recursive: true, force: true });
});
t.before.each(() => {
  stateDir = join(dir, `state-${Math.random().toString(36).slice(2, 8)}`);
});

async function enforce(args: string[], env: NodeJS.ProcessEnv = {}) {
  return lab.exec('host', ['node', ...CLI, 'enforce', policy, '--backend', 'nft', '--state-dir', stateDir, '--wait', '3', '--home', dir, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: dir, NO_COLOR: '1', ...env },
    timeoutMs: 30_000,
  });
}

function bridgePids(): number[] {
  const state = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as { bridges: Array<{ pid: number }> };
  return state.bridges.map((b) => b.pid);
}

async function tableLoaded(): Promise<boolean> {
  return (await lab.exec('host', ['nft', 'list', 'table', 'inet', TABLE])).exitCode === 0;
}

t('after enforce the VM reaches each bridge target through socat and nothing else; --down removes it all', async () => {
  const r = await enforce(['--vm-address', lab.vmAddress]);
  assert.is(r.exitCode, 0, r.stderr);
  assert.ok(await tableLoaded());
  const pids = bridgePids();
  assert.is(pids.length, 2);
  try {
    const alpha = await lab.probeTcp('vm', lab.gateway, 18080, { timeoutMs: 2000 });
    assert.ok(alpha.ok, JSON.stringify(alpha));
    assert.match(String((alpha as { banner?: string }).banner), /alpha-svc/);
    const beta = await lab.probeTcp('vm', lab.gateway, 18090, { timeoutMs: 2000 });
    assert.ok(beta.ok, JSON.stringify(beta));
    assert.match(String((beta as { banner?: string }).banner), /beta-svc/);
    // The services saw the host's lan address: the VM got there only through socat.
    assert.ok(lab.connections('alpha-svc').length > 0 && lab.connections('alpha-svc').every((c) => c.from === PLAN.lan.host));

    for (const [host, port, what] of [[ALPHA, 8080, 'lan directly'], [PLAN.wan.web, 80, 'wan'], [lab.gateway, 22, 'host ssh'], [lab.gateway, 18081, 'another gateway port']] as const) {
      const p = await lab.probeTcp('vm', host, port, { timeoutMs: 1500 });
      assert.is(p.ok, false, `${what} must be blocked`);
      assert.is((p as { error?: string }).error, 'ECONNREFUSED', `${what}: refused at once (RST), not dropped`);
    }
    assert.equal(lab.connections('host-ssh'), []);
    assert.equal(lab.connections('wan-web'), []);

    const again = await enforce(['--vm-address', lab.vmAddress]);
    assert.is(again.exitCode, 0, again.stderr);
    assert.match(again.stdout, /nothing changed/);
    assert.equal(bridgePids(), pids);
  } finally {
    const down = await enforce(['--down']);
    assert.is(down.exitCode, 0, down.stderr);
  }
  assert.not.ok(await tableLoaded(), 'table gone');
  await new Promise((res) => setTimeout(res, 100));
  assert.equal(pids.filter(running), [], 'no socat survives --down');
  const twice = await enforce(['--down']);
  assert.is(twice.exitCode, 0, twice.stderr);
});

t('a port already taken fails the preflight: exit 3, no table, no bridge', async () => {
  const holder = await lab.startTcpService('host', lab.gateway, 18090, { name: 'squatter' });
  try {
    const r = await enforce([]);
    assert.is(r.exitCode, 3, r.stderr);
    assert.match(r.stderr, /Port 18090 \(bridge "beta"\) is already taken/);
    assert.not.ok(await tableLoaded());
    assert.not.ok(existsSync(join(stateDir, 'state.json')));
  } finally {
    await lab.stopService(holder.name);
  }
});

t('a --vm-address outside the VM subnet fails the preflight: exit 3, no table', async () => {
  const r = await enforce(['--vm-address', '198.51.100.77']);
  assert.is(r.exitCode, 3, r.stderr);
  assert.match(r.stderr, /--vm-address 198\.51\.100\.77 is not a host address of the VM subnet 192\.168\.64\.0\/24/);
  assert.not.ok(await tableLoaded());
});

t('a bridge failing after the table is loaded rolls the table and the first bridge back', async () => {
  // A socat that fails for beta's port only, first on PATH: the failure comes after the table and
  // the alpha bridge are in place, so the rollback is what is tested.
  const shim = join(dir, 'shim');
  mkdirSync(shim, { recursive: true });
  writeFileSync(join(shim, 'socat'), `#!/bin/sh\ncase "$1" in *LISTEN:18090,*) echo "socat: Address already in use" >&2; exit 1;; esac\nexec /usr/bin/socat "$@"\n`);
  chmodSync(join(shim, 'socat'), 0o755);
  const before = labSocats();
  const r = await enforce([], { PATH: `${shim}:${process.env.PATH}` });
  assert.is(r.exitCode, 3, r.stderr);
  assert.match(r.stderr, /step "bridge:beta" failed/);
  assert.match(r.stderr, /nothing is left changed/);
  assert.not.ok(await tableLoaded(), 'table rolled back');
  assert.equal(labSocats(), before, 'no socat left');
  assert.not.ok(existsSync(join(stateDir, 'state.json')));
});

// The socat processes in this lab's host namespace. Not `pgrep -x socat`: a network namespace is
// not a process namespace, and other lab suites run their own socats at the same time.
function labSocats(): number[] {
  const pids = spawnSync('ip', ['netns', 'pids', lab.ns.host], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);
  return pids.filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'socat' && running(pid);
    } catch {
      return false;
    }
  }).sort((a, b) => a - b);
}

// Writes the host namespace's hosts file directly: lab.setHosts refuses non-lab addresses, and
// these answers (loopback) are only ever resolved and refused, never connected to.
function hostHosts(lines: string): void {
  rewriteInPlace(join('/etc/netns', lab.ns.host, 'hosts'), `127.0.0.1 localhost\n${lines}`);
}
const NORMAL_HOSTS = `${PLAN.lan.services[1]} ha.lab.test\n`;

function killBridges(): void {
  for (const pid of bridgePids()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

t('everything killed abruptly (bridges SIGKILLed, table gone) then enforce again: a fresh start', async () => {
  assert.is((await enforce(['--vm-address', lab.vmAddress])).exitCode, 0);
  killBridges();
  assert.is((await lab.exec('host', ['nft', 'delete', 'table', 'inet', TABLE])).exitCode, 0);
  await new Promise((res) => setTimeout(res, 100));
  try {
    const r = await enforce(['--vm-address', lab.vmAddress]);
    assert.is(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /left nothing standing .*: this was a fresh start/);
    assert.ok(await tableLoaded());
    const beta = await lab.probeTcp('vm', lab.gateway, 18090, { timeoutMs: 2000 });
    assert.ok(beta.ok, JSON.stringify(beta));
  } finally {
    assert.is((await enforce(['--down'])).exitCode, 0);
  }
});

t('a half-standing state (table loaded, bridges killed) is refused with the exact commands; they work', async () => {
  assert.is((await enforce(['--vm-address', lab.vmAddress])).exitCode, 0);
  killBridges();
  await new Promise((res) => setTimeout(res, 100));
  try {
    const r = await enforce(['--vm-address', lab.vmAddress, '--json']);
    assert.is(r.exitCode, 3, r.stderr);
    const rec = JSON.parse(r.stdout);
    assert.equal(rec.standing, ['inet nanopolicy_lab_vm is loaded']);
    const tail = `${policy} --backend nft --state-dir ${stateDir} --home ${dir}`;
    assert.equal(rec.commands, [`nanopolicy enforce --down ${tail}`, `nanopolicy enforce ${tail} --vm-address ${lab.vmAddress}`]);
    assert.ok(await tableLoaded(), 'nothing changed: the table stays');
    for (const c of rec.commands as string[]) {
      const argv = c.split(' ').slice(2).filter((w) => w !== policy && w !== '--backend' && w !== 'nft');
      const fixed = await enforce(argv.filter((w, i, all) => !['--state-dir', '--home'].includes(w) && !['--state-dir', '--home'].includes(all[i - 1] ?? '')));
      assert.is(fixed.exitCode, 0, `${c}: ${fixed.stderr}`);
    }
    assert.ok(await tableLoaded());
    assert.is(bridgePids().length, 2);
  } finally {
    assert.is((await enforce(['--down'])).exitCode, 0);
  }
});

t('a bridge name resolving to loopback or to the gateway is refused before anything changes', async () => {
  try {
    for (const [address, why] of [['127.0.0.1', /resolves to 127\.0\.0\.1, which is loopback/], [lab.gateway, /resolves to 192\.168\.64\.1, which is inside the VM subnet/]] as const) {
      hostHosts(`${address} ha.lab.test\n`);
      const r = await enforce([]);
      assert.is(r.exitCode, 3, r.stderr);
      assert.match(r.stderr, /preflight "targets": The bridge "beta": its target "ha\.lab\.test"/);
      assert.match(r.stderr, why);
      assert.not.ok(await tableLoaded());
      assert.not.ok(existsSync(join(stateDir, 'state.json')));
    }
  } finally {
    hostHosts(NORMAL_HOSTS);
  }
});

t('a VM interface whose netmask is not the policy\'s subnet is refused and rolled back', async () => {
  const narrow = join(dir, 'narrow.policy');
  writeFileSync(narrow, `vm lab-vm\nnetwork softnet subnet 192.168.64.0/25 gateway 192.168.64.1\nallow alpha ${ALPHA}:8080 via 18080\n`);
  const r = await lab.exec('host', ['node', ...CLI, 'enforce', narrow, '--backend', 'nft', '--state-dir', stateDir, '--wait', '3', '--home', dir], {
    cwd: ROOT, env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: dir, NO_COLOR: '1' }, timeoutMs: 30_000,
  });
  assert.is(r.exitCode, 3, r.stderr);
  assert.match(r.stderr, /has a \/24 netmask, but the policy's subnet is 192\.168\.64\.0\/25/);
  assert.not.ok(await tableLoaded());
});

t('--supervise catches a rebinding: an allowed new answer moves the bridge, loopback takes it down', async () => {
  const other = await lab.startTcpService('lan', ALPHA, 9090, { name: 'rebound-svc' });
  const sup = lab.spawn('host', ['node', ...CLI, 'enforce', policy, '--backend', 'nft', '--state-dir', stateDir, '--wait', '3', '--home', dir, '--vm-address', lab.vmAddress, '--supervise', '--interval', '0.2'], {
    cwd: ROOT, env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: dir, NO_COLOR: '1' }, extendEnv: false, all: true, buffer: true,
  });
  let log = '';
  sup.all?.on('data', (d: Buffer) => {
    log += d.toString();
  });
  const until = async (re: RegExp, ms = 20_000) => {
    const end = Date.now() + ms;
    while (!re.test(log) && Date.now() < end) await new Promise((res) => setTimeout(res, 50));
    assert.ok(re.test(log), `no ${re} within ${ms} ms; the supervisor said:\n${log.slice(-2000)}`);
  };
  try {
    await until(/the policy is in force/);
    const first = await lab.probeTcp('vm', lab.gateway, 18090, { timeoutMs: 2000 });
    assert.match(String((first as { banner?: string }).banner), /beta-svc/);
    hostHosts(`${ALPHA} ha.lab.test\n`);
    await until(/restarted the bridge "beta" \(to 198\.51\.100\.10\)/);
    const moved = await lab.probeTcp('vm', lab.gateway, 18090, { timeoutMs: 2000 });
    assert.match(String((moved as { banner?: string }).banner), /rebound-svc/);
    hostHosts('127.0.0.1 ha.lab.test\n');
    await until(/took the bridge "beta" down: .*resolves to 127\.0\.0\.1, which is loopback/);
    const down = await lab.probeTcp('vm', lab.gateway, 18090, { timeoutMs: 1500 });
    assert.is(down.ok, false, 'the bridge is gone');
    const alpha = await lab.probeTcp('vm', lab.gateway, 18080, { timeoutMs: 2000 });
    assert.ok(alpha.ok, 'the other bridge still runs');
  } finally {
    hostHosts(NORMAL_HOSTS);
    sup.kill('SIGTERM');
    await sup;
    await lab.stopService(other.name);
  }
  await until(/supervision ended: told to stop/);
  assert.not.ok(await tableLoaded(), 'the supervisor tore the table down');
});

if (available) t.run();
