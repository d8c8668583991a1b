// enforce --supervise for real, as root, in the lab's namespaces (test/lab): with --interval 5, a
// killed bridge and a killed egress proxy are each listening again well within the interval (the
// liveness watch, not the next full check: under 1.5 s, measured from the kill); and a supervisor
// started again after it died together with its proxy (launchd's KeepAlive) takes the cage over and
// restarts the proxy instead of refusing to start.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cliArgs } from '../helpers/cli-process.ts';
import { PLAN, createLab, requireLab, type Lab } from '../lab/index.ts';

const available = requireLab('enforce --supervise recovery');
const ROOT = join(import.meta.dirname, '..', '..');
const CLI = await cliArgs();
const WEB = '203.0.113.20';
const ALPHA = PLAN.lan.services[0]!;
const [BRIDGE_PORT, PROXY_PORT] = [18070, 13129];
/** What the soak requires of every recovery is "under the interval" (5 s here); the watch does far better. */
const BOUND_MS = 1500;

const t = suite('enforce --supervise recovery (lab)');
let lab: Lab;
let policyFile: string;
let stateDir: string;

t.before(async () => {
  lab = await createLab({ wanAddresses: [WEB], hostHosts: { 'api.sup.test': WEB } });
  await lab.startTcpService('lan', ALPHA, 8080, { name: 'alpha-svc', banner: 'alpha\r\n' });
  await lab.startTlsService('wan', WEB, 443, { name: 'sup-web', names: ['api.sup.test'] });
  const dir = join(lab.dir, 'policy');
  mkdirSync(dir, { recursive: true });
  policyFile = join(dir, 'sup.policy');
  stateDir = join(lab.dir, 'state');
  writeFileSync(policyFile, ['vm lab-vm', `allow alpha ${ALPHA}:8080 via ${BRIDGE_PORT}`, `proxy via ${PROXY_PORT}`, 'egress api api.sup.test', ''].join('\n'));
});
t.after(() => lab?.teardown());

const env = () => ({ PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: lab.dir, NO_COLOR: '1' });
const enforceArgs = () => ['enforce', policyFile, '--backend', 'nft', '--vm-address', lab.vmAddress, '--state-dir', stateDir, '--home', lab.dir, '--wait', '5'];
const state = () => JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as { bridges: Array<{ name: string; pid: number }>; proxy?: { pid: number } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The pid listening on gateway:port in the host namespace, from ss (undefined: nothing listens).
async function listener(port: number): Promise<number | undefined> {
  const r = await lab.exec('host', ['ss', '-ltnpH', `sport = :${port}`]);
  const m = /pid=(\d+)/.exec(r.stdout);
  return m ? Number(m[1]) : undefined;
}

// Kills `pid` and returns how long until another process listens on `port` (or undefined after 10 s).
async function recovery(pid: number, port: number): Promise<number | undefined> {
  const killed = Date.now();
  process.kill(pid, 'SIGKILL');
  while (Date.now() - killed < 10_000) {
    const now = await listener(port);
    if (now !== undefined && now !== pid) return Date.now() - killed;
    await sleep(20);
  }
  return undefined;
}

// From the VM: alpha's banner through the bridge, and a CONNECT through the proxy.
async function pathsWork(): Promise<string> {
  const script = `const net=require('net');const a=net.connect(${BRIDGE_PORT},'${lab.gateway}');let s='';a.on('data',d=>{s+=d;if(s.includes('alpha')){a.destroy();const p=net.connect(${PROXY_PORT},'${lab.gateway}');let b='';p.on('connect',()=>p.write('CONNECT api.sup.test:443 HTTP/1.1\\r\\nHost: api.sup.test:443\\r\\n\\r\\n'));p.on('data',d=>{b+=d;if(b.includes('\\r\\n')){console.log('alpha '+b.split('\\r\\n')[0]);p.destroy();}});p.on('error',e=>console.log('proxy error '+e.code));}});a.on('error',e=>console.log('bridge error '+e.code));setTimeout(()=>{console.log('timeout '+s);process.exit(0)},3000).unref();`;
  return (await lab.exec('vm', ['node', '-e', script])).stdout.trim();
}

async function waitFor(what: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!what() && Date.now() < end) await sleep(50);
  return what();
}

t('--supervise --interval 5: a killed bridge and a killed proxy are back in under 1.5 s', async () => {
  const supervisor = lab.spawn('host', ['node', ...CLI, ...enforceArgs(), '--supervise', '--interval', '5'], { cwd: ROOT, env: env() });
  let said = '';
  supervisor.stdout?.on('data', (d: Buffer) => (said += d.toString()));
  supervisor.stderr?.on('data', (d: Buffer) => (said += d.toString()));
  try {
    assert.ok(await waitFor(() => said.includes('in force for'), 30_000), said);
    assert.match(await pathsWork(), /^alpha HTTP\/1\.1 200/);
    const times: Record<string, number | undefined> = {};
    for (let round = 0; round < 2; round++) {
      // Apart by more than the steady time, so each death is a fresh fault (no backoff).
      await sleep(2500);
      times[`bridge#${round}`] = await recovery(state().bridges.find((b) => b.name === 'alpha')!.pid, BRIDGE_PORT);
      await sleep(2500);
      times[`proxy#${round}`] = await recovery(state().proxy!.pid, PROXY_PORT);
    }
    console.log(`supervise recovery (ms, --interval 5): ${JSON.stringify(times)}`);
    for (const [what, ms] of Object.entries(times)) assert.ok(ms !== undefined && ms < BOUND_MS, `${what}: ${ms} ms\n${said.slice(-2000)}`);
    assert.match(await pathsWork(), /^alpha HTTP\/1\.1 200/);
  } finally {
    supervisor.kill('SIGTERM');
    await supervisor.catch(() => undefined);
  }
  assert.is(await listener(BRIDGE_PORT), undefined);
  assert.is(await listener(PROXY_PORT), undefined);
  assert.not.ok(existsSync(join(stateDir, 'state.json')));
});

t('a supervisor killed with its proxy is started again (launchd) and restarts the proxy instead of refusing', async () => {
  const start = () => {
    const p = lab.spawn('host', ['node', ...CLI, ...enforceArgs(), '--supervise', '--interval', '5'], { cwd: ROOT, env: env() });
    const out = { said: '' };
    p.stdout?.on('data', (d: Buffer) => (out.said += d.toString()));
    p.stderr?.on('data', (d: Buffer) => (out.said += d.toString()));
    return { p, out };
  };
  const first = start();
  let second: ReturnType<typeof start> | undefined;
  try {
    assert.ok(await waitFor(() => first.out.said.includes('in force for'), 30_000), first.out.said);
    const proxy = state().proxy!.pid;
    // The supervisor dies first, then its proxy: nothing is watching when the proxy goes.
    first.p.kill('SIGKILL');
    await first.p.catch(() => undefined);
    process.kill(proxy, 'SIGKILL');
    await sleep(200);
    second = start();
    assert.ok(await waitFor(() => second!.out.said.includes('restarted the egress proxy') || second!.p.exitCode !== null, 30_000), second.out.said);
    assert.is(second.p.exitCode, null, `the supervisor exited: ${second.out.said}`);
    assert.match(second.out.said, /supervising it, repairing the egress proxy/);
    assert.match(await pathsWork(), /^alpha HTTP\/1\.1 200/);
    assert.is.not(await listener(PROXY_PORT), proxy);
  } finally {
    first.p.kill('SIGKILL');
    second?.p.kill('SIGTERM');
    await second?.p.catch(() => undefined);
  }
  assert.is(await listener(BRIDGE_PORT), undefined);
  assert.is(await listener(PROXY_PORT), undefined);
  assert.not.ok(existsSync(join(stateDir, 'state.json')));
});

if (available) t.run();
