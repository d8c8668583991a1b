// Issue 8, item 2: forgers. Each fake VM (the `--exec` hook) lies in its own way; each must fail
// verify, and be named. The forgers are as clever as we could make them: they read this run's
// input (challenge included) from stdin, and where it helps they run the real probe and edit its report.

import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireLab } from '../lab/index.ts';
import { assertNamed, runVerify, sharedLabSuite, WITHOUT_SWEEP, type CagedLab } from './lab-setup.ts';

const available = requireLab('verify forger tests');
// One caged lab for all: a forger changes nothing in it (it only lies), except the last test, which
// opens a hole in the table for its own forger.
const { t, caged } = sharedLabSuite('verify: forged VM reports');

/** The old, fixed canary ports: a forger that knew them would simply avoid them. */
const OLD_CANARIES = [7, 1234, 2222, 4444, 8081, 9999, 31337, 40404, 54321, 61000];

// A forger: reads the host's script from stdin, then runs `body` with `input` (the host's input, as
// the VM sees it), `honest()` (runs the real probe on given input, resolves to its report) and `emit(report)`.
function forger(c: CagedLab, name: string, body: string): string {
  const file = join(c.lab.dir, `forge-${name}.cjs`);
  writeFileSync(file, `
const { spawn } = require('child_process');
let script = '';
process.stdin.setEncoding('utf8').on('data', (d) => (script += d)).on('end', main);
const GROUPS = ['bridges', 'hosts', 'gateway', 'direct', 'egress', 'dns', 'icmp', 'mounts'];
function emit(report) { console.log(JSON.stringify(report)); }
function honest(input) {
  return new Promise((resolve) => {
    const code = script.slice(script.indexOf('\\n') + 1);
    const child = spawn(process.execPath, ['-'], { stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.on('close', () => resolve(JSON.parse(out.trim().split('\\n').pop())));
    child.stdin.end('globalThis.__NANOPOLICY_INPUT = ' + JSON.stringify(input) + ';\\n' + code);
  });
}
async function main() {
  const first = script.slice(0, script.indexOf('\\n'));
  const input = JSON.parse(first.replace(/^globalThis.__NANOPOLICY_INPUT = /, '').replace(/;$/, ''));
  ${body}
}
`);
  return `ip netns exec ${c.lab.ns.vm} node ${file}`;
}

t('a report replayed from an earlier run (the real probe, an old challenge) fails', async () => {
  const current = await caged();
  const exec = forger(current, 'replay', `emit(await honest({ ...input, challenge: 'a-challenge-from-yesterday' }));`);
  const run = await runVerify(current, [...WITHOUT_SWEEP, '--exec', exec]);
  assertNamed(run, /answers challenge "a-challenge-from-yesterday", not this run's: it is replayed/);
});

t('a lazy forger (right challenge, every row "ok", no traffic at all) is caught by the firewall counters', async () => {
  const current = await caged();
  const exec = forger(current, 'lazy', `
    const m = input.manifest;
    emit({ challenge: input.challenge, stats: {}, results: [
      ...m.bridges.map((b) => ({ group: 'bridges', probe: m.gateway + ':' + b.listen, expected: 'open', measured: 'open', ok: true, ms: 3 })),
      { group: 'gateway', probe: m.gateway + ' TCP 1-65535', expected: 'all closed', measured: '65533 closed', ok: true, ms: 900 },
      ...['hosts', 'direct', 'egress', 'dns', 'icmp', 'mounts'].map((g) => ({ group: g, probe: g, expected: 'blocked', measured: 'blocked', ok: true, ms: 1 })),
    ] });`);
  const run = await runVerify(current, ['--exec', exec]);
  assertNamed(run, /the nft table counters rose by \d+ refused and \d+ bridged packets, less than the VM's report claims .*the report is forged/);
});

t('a forger that hides a FAIL row with escape sequences fails, and no escape reaches the output', async () => {
  const current = await caged();
  const exec = forger(current, 'escape', `
    const report = await honest(input);
    report.results[0].probe += '\\u001b[2K\\u001b[1A\\r';
    report.results.push({ group: 'gateway', probe: 'port 22 \\u202eNEPO\\u202c', expected: 'closed', measured: '\\u001b[8mOPEN\\u001b[0m', ok: true, ms: 1 });
    emit(report);`);
  const run = await runVerify(current, [...WITHOUT_SWEEP, '--exec', exec]);
  assertNamed(run, /carry control characters or escape sequences \(shown escaped\)/);
  assert.not.match(run.stdout, /\\u001b|\\u202e|\\r/, 'no control character, not even as a JSON escape');
  assert.not.match(run.stdout, /[\u001b\u202e\r]/, 'no raw control character');
  assert.match(run.stdout, /\\\\u\{1b\}\[8mOPEN/);
});

t('a forger that claims host and canary rows has them refused', async () => {
  const current = await caged();
  const exec = forger(current, 'host-rows', `
    const report = await honest(input);
    report.results.push({ group: 'host', probe: 'nft table inet nanopolicy_lab_vm', expected: 'loaded, as compiled', measured: 'loaded, as compiled', ok: true, ms: 1 });
    report.results.push({ group: 'canary', probe: 'canary 192.168.64.1:1', expected: 'no connection', measured: 'no connection', ok: true, ms: 1 });
    emit(report);`);
  const run = await runVerify(current, [...WITHOUT_SWEEP, '--exec', exec]);
  assertNamed(run, /claims 1 row\(s\) for "host", which only the host may report: refused/);
  assertNamed(run, /claims 1 row\(s\) for "canary"/);
  assert.not.ok(run.json.results.some((r) => r.probe === 'canary 192.168.64.1:1'), 'the forged canary row is not shown');
});

// Last: the hole it opens stays in the shared lab.
t('a forger that sweeps the gateway through a hole but avoids the old fixed canary ports hits a random canary', async () => {
  const current = await caged();
  await current.lab.exec('host', ['sh', '-c', `nft insert rule ${current.table} input ip daddr ${current.lab.gateway} tcp dport != 22 accept`]);
  // The sweep is the real probe's scanner (the cheapest full sweep there is), told to start above
  // the well-known ports and to step around the old canaries; then the forger claims all is well.
  const exec = forger(current, 'avoid', `
    const m = input.manifest;
    const around = { from: 1024, to: 65535, except: [...m.gatewaySweep.except, ...${JSON.stringify(OLD_CANARIES)}] };
    await honest({ ...input, manifest: { ...m, gatewaySweep: around }, options: { ...input.options, skip: GROUPS.filter((g) => g !== 'gateway') } });
    emit({ challenge: input.challenge, results: GROUPS.map((g) => ({ group: g, probe: g + ' (forged)', expected: g === 'gateway' ? 'all closed' : 'blocked', measured: 'blocked', ok: true, ms: 1 })), stats: {} });`);
  const run = await runVerify(current, ['--exec', exec]);
  assertNamed(run, /canary 192\.168\.64\.1:\d+ saw 1 connection\(s\) from 192\.168\.64\.2/);
});

if (available) t.run();
