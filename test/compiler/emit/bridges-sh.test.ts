import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { emitBridgesScript, socatArgv, socatTarget } from '../../../src/compiler/emit/bridges-sh.ts';
import { bridge, bundledPolicy, CASES, edgePolicy } from './sample-policy.ts';

const bridges = suite('bridges.sh');

bridges('socat binds the gateway, forks boundedly and accepts only the range', () => {
  const policy = bundledPolicy();
  assert.equal(socatArgv(policy, policy.bridges[0]!, '192.168.64.5/32'), [
    'TCP4-LISTEN:18443,bind=192.168.64.1,reuseaddr,fork,max-children=32,range=192.168.64.5/32',
    'TCP:bitwarden.cstrube.de:443',
  ]);
});

bridges('targets: name, IPv4, bracketed IPv6', () => {
  assert.is(socatTarget(bridge('a', 'dns', 'x.example', 1, 2)), 'TCP:x.example:1');
  assert.is(socatTarget(bridge('a', 'ipv4', '192.0.2.7', 80, 2)), 'TCP4:192.0.2.7:80');
  assert.is(socatTarget(bridge('a', 'ipv6', '2001:db8::10', 8443, 2)), 'TCP6:[2001:db8::10]:8443');
});

bridges('a range that is not a CIDR is refused', () => {
  const policy = bundledPolicy();
  assert.throws(() => socatArgv(policy, policy.bridges[0]!, '0.0.0.0/0,exec=sh'));
});

for (const [name, build] of Object.entries(CASES)) {
  bridges(`${name}: sh -n accepts the script, and it never binds the VM's address`, () => {
    const text = emitBridgesScript(build());
    execFileSync('sh', ['-n', '-c', text]);
    assert.not.match(text, /bind=\$/);
  });
}

// Runs bridges.sh with a stand-in socat that records its argv in a file named by its pid and sleeps.
// The record is written aside and renamed into place, so a reader never sees it half-written.
function startWithFakeSocat(dir: string, script: string, range?: string) {
  writeFileSync(join(dir, 'socat'), `#!/bin/sh\nprintf '%s\\0' "$@" > "${dir}/part.$$" && mv "${dir}/part.$$" "${dir}/socat.$$"\nexec sleep 30\n`);
  chmodSync(join(dir, 'socat'), 0o755);
  writeFileSync(join(dir, 'bridges.sh'), script);
  const env: Record<string, string> = { PATH: `${dir}:/usr/bin:/bin` };
  if (range) env['NANOPOLICY_VM_RANGE'] = range;
  return spawn('sh', [join(dir, 'bridges.sh')], { env, stdio: 'ignore' });
}

function records(dir: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const f of readdirSync(dir).filter((n) => n.startsWith('socat.'))) {
    out.set(Number(f.slice(6)), readFileSync(join(dir, f), 'utf8').split('\0').slice(0, -1));
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(25)) if (check()) return;
  throw new Error('timed out');
}

bridges('runs one socat per bridge with the range from the environment; one stopping stops all', async () => {
  const policy = edgePolicy();
  const dir = mkdtempSync(join(tmpdir(), 'np-bridges-'));
  const child = startWithFakeSocat(dir, emitBridgesScript(policy), '192.168.64.9/32');
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let pids: number[] = [];
  try {
    await until(() => records(dir).size === policy.bridges.length);
    const seen = records(dir);
    pids = [...seen.keys()];
    const expected = policy.bridges.map((b) => socatArgv(policy, b, '192.168.64.9/32'));
    assert.equal([...seen.values()].map((a) => a.join(' ')).sort(), expected.map((a) => a.join(' ')).sort());
    process.kill(pids[0]!, 'SIGKILL');
    assert.is(await exited, 143);
    await until(() => pids.every((p) => !alive(p)));
  } finally {
    for (const p of pids) if (alive(p)) process.kill(p, 'SIGKILL');
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

bridges('TERM to the script stops every socat', async () => {
  const policy = bundledPolicy();
  const dir = mkdtempSync(join(tmpdir(), 'np-bridges-'));
  const child = startWithFakeSocat(dir, emitBridgesScript(policy));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let pids: number[] = [];
  try {
    await until(() => records(dir).size === policy.bridges.length);
    pids = [...records(dir).keys()];
    assert.ok([...records(dir).values()].every((a) => a[0]!.endsWith('range=192.168.64.0/24')));
    child.kill('SIGTERM');
    assert.is(await exited, 143);
    await until(() => pids.every((p) => !alive(p)));
  } finally {
    for (const p of pids) if (alive(p)) process.kill(p, 'SIGKILL');
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

bridges('a range with socat options in it is refused before any socat starts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-bridges-'));
  try {
    writeFileSync(join(dir, 'bridges.sh'), emitBridgesScript(bundledPolicy()));
    let status = 0;
    try {
      execFileSync('sh', [join(dir, 'bridges.sh')], { env: { PATH: '/usr/bin:/bin', NANOPOLICY_VM_RANGE: '0.0.0.0/0,exec=sh' }, stdio: 'pipe' });
    } catch (error) {
      status = (error as { status: number }).status;
    }
    assert.is(status, 2);
    assert.not.ok(existsSync(join(dir, 'socat.1')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

bridges.run();
