// A caged lab VM for verify's end-to-end tests: services in lan/wan/host, a policy with a TLS and a
// TCP bridge and two shares, and the commands that run `nanopolicy verify` in the host namespace.
// Every address is a lab address (domain.md §7); --egress/--dns-* replace the built-in public targets.

import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { suite, type Test } from 'uvu';
import * as assert from 'uvu/assert';
import { cliArgs } from '../helpers/cli-process.ts';
import { PLAN, createLab, type Lab } from '../lab/index.ts';
import { compilePolicyFile } from '../../src/compiler/compile.ts';
import { emitNftConf, nftTableName } from '../../src/compiler/emit/nft-conf.ts';
import { emitBridgesScript } from '../../src/compiler/emit/bridges-sh.ts';
import type { Policy } from '../../src/compiler/policy.ts';

export const ROOT = join(import.meta.dirname, '../..');
export const VAULT_PORT = 8443;
export const HA_PORT = 8123;

export interface CagedLab {
  lab: Lab;
  policy: Policy;
  policyFile: string;
  table: string;
  /** argv for `nanopolicy verify` (run in the host namespace), without --json. */
  verifyArgs: string[];
}

// Builds dist/probe.cjs from source, so a subset run tests the probe it sees. Written beside and
// renamed into place: the lab suites run side by side, and one may be reading the probe while
// another rebuilds it.
export async function buildProbe(): Promise<void> {
  const outfile = join(ROOT, 'dist/probe.cjs');
  const r = await build({ entryPoints: [join(ROOT, 'src/verify/inside/main.ts')], outfile, write: false, bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'warning' });
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  const part = `${outfile}.${process.pid}`;
  writeFileSync(part, r.outputFiles[0]!.contents);
  renameSync(part, outfile);
}

// A lab with every service the policy and the faults need; not yet caged.
export async function createVerifyLab(): Promise<CagedLab> {
  const lab = await createLab();
  const [vaultAddress, haAddress] = PLAN.lan.services;
  await lab.startTlsService('lan', vaultAddress, VAULT_PORT, { name: 'vault', names: ['vault.lab.test'] });
  await lab.startTcpService('lan', haAddress, HA_PORT, { name: 'ha' });
  await lab.startTcpService('wan', PLAN.wan.web, 443, { name: 'web' });
  await lab.startDns('wan', PLAN.wan.dns, { 'web.lab.test': PLAN.wan.web }, { name: 'public-dns' });
  // The Mac's own SSH on the gateway address: what a hole in the firewall exposes.
  await lab.startTcpService('host', lab.gateway, 22, { name: 'host-ssh', banner: 'SSH-2.0-lab\r\n' });
  lab.setHosts('vm', { 'vault.lab.test': lab.gateway });
  const view = lab.shares([
    { name: 'data', mode: 'rw' },
    { name: 'scripts', mode: 'ro', files: { 'start.sh': 'echo the owner\'s script\n' } },
  ]);
  const policyDir = join(lab.dir, 'policy');
  mkdirSync(policyDir, { recursive: true });
  const policyFile = join(policyDir, 'lab.policy');
  writeFileSync(
    policyFile,
    [
      'vm lab-vm',
      `allow vault vault.lab.test:${VAULT_PORT} via 18443 tls`,
      `allow ha    ${haAddress}:${HA_PORT} via 18123`,
      `mount data    ${view.hostDirs.data} rw`,
      `mount scripts ${view.hostDirs.scripts} ro`,
      '',
    ].join('\n'),
  );
  const outcome = await compilePolicyFile(policyFile, { home: lab.dir, cwd: ROOT });
  if (!outcome.policy) throw new Error(`lab policy does not compile: ${JSON.stringify(outcome.diagnostics)}`);
  const policy = outcome.policy;
  const verifyArgs = [
    'verify', policyFile,
    '--backend', 'nft',
    '--exec', `ip netns exec ${lab.ns.vm}`,
    '--egress', `${PLAN.wan.web}:443,${PLAN.wan.web}:80,${PLAN.wan.dns}:53,[${PLAN.wan.web6}]:443,${PLAN.lan.host}:80`,
    '--dns-servers', PLAN.wan.dns,
    '--dns-name', 'web.lab.test',
    '--ca', lab.ca.path,
    '--shares-root', view.root,
    '--timeout', '400',
    '--budget', '60000',
    '--home', lab.dir,
  ];
  return { lab, policy, policyFile, table: `inet ${nftTableName(policy)}`, verifyArgs };
}

// Cages the lab VM the way a Linux owner would: `nanopolicy enforce --backend nft`.
export async function cage(c: CagedLab): Promise<void> {
  const { lab } = c;
  const enforce = await lab.exec(
    'host',
    ['node', ...(await cliArgs()), 'enforce', c.policyFile, '--backend', 'nft', '--vm-address', lab.vmAddress, '--state-dir', join(lab.dir, 'state'), '--home', lab.dir],
    { cwd: ROOT, timeoutMs: 60_000 },
  );
  if (enforce.exitCode !== 0) throw new Error(`enforce --backend nft failed (exit ${enforce.exitCode}): ${enforce.stdout}\n${enforce.stderr}`);
  await waitForBridges(c);
}

// Stops the socat processes of this lab's host namespace only (pkill would reach every socat
// on the machine: a network namespace is not a process namespace).
// With a port, only the bridge listening there.
export async function killLabBridges(c: CagedLab, port?: number): Promise<void> {
  const match = port === undefined ? '*socat\\ *' : `*socat\\ *TCP4-LISTEN:${port},*`;
  await c.lab.run(
    'host',
    `for p in $(ip netns pids ${c.lab.ns.host}); do
       case "$(tr '\\0' ' ' < /proc/$p/cmdline 2>/dev/null)" in ${match}) kill "$p" ;; esac
     done; sleep 0.3`,
  );
}

// Runs bridges.sh in the host namespace with range= narrowed to the VM; waits until all listen.
export async function startBridges(c: CagedLab, script: string): Promise<void> {
  const file = join(c.lab.dir, `bridges-${Date.now()}.sh`);
  writeFileSync(file, script, { mode: 0o755 });
  c.lab.spawn('host', ['sh', file], { env: { NANOPOLICY_VM_RANGE: `${c.lab.vmAddress}/32` }, reject: false });
  await waitForBridges(c);
}

// Waits until every bridge port listens in the host namespace.
async function waitForBridges(c: CagedLab): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ss = await c.lab.exec('host', ['ss', '-ltnH']);
    if (c.policy.bridges.every((b) => ss.stdout.includes(`:${b.listen} `))) return;
    await new Promise((r) => setTimeout(r, 30));
  }
  throw new Error('bridges did not start listening');
}

export interface VerifyRun {
  exitCode: number | undefined;
  json: { ok: boolean; wrong: number; results: Array<{ group: string; probe: string; ok: boolean; measured: string; detail?: string }>; inside?: Record<string, number> };
  stdout: string;
  stderr: string;
}

/**
 * For a run whose fault has nothing to do with the gateway: leaves out the 65,533-port sweep
 * (~2.5 s of CPU, and the test run is CPU-bound: issue 9). The sweep itself, faulted and clean, is
 * covered by the runs that keep it (verify-lab 1, 2 and 3c, the lazy and canary-avoiding forgers,
 * proxy-lab); the other fault tests assert only the failure their own fault causes.
 */
export const WITHOUT_SWEEP: readonly string[] = ['--skip', 'gateway'];

// `nanopolicy verify … --json` in the host namespace (where the Mac's checks belong).
// `built` runs bin/nanopolicy.js (the bundle users run; needs a build) instead of the sources
// (bundled by cli-process.ts).
export async function runVerify(c: CagedLab, extra: readonly string[] = [], opts: { built?: boolean } = {}): Promise<VerifyRun> {
  const cli = opts.built ? [join(ROOT, 'bin/nanopolicy.js')] : await cliArgs();
  const r = await c.lab.exec('host', ['node', ...cli, ...c.verifyArgs, '--json', ...extra], { cwd: ROOT, timeoutMs: 90_000 });
  let json: VerifyRun['json'];
  try {
    json = JSON.parse(r.stdout);
  } catch {
    throw new Error(`verify printed no JSON (exit ${r.exitCode}): ${r.stdout}\n${r.stderr}`);
  }
  return { exitCode: r.exitCode, json, stdout: r.stdout, stderr: r.stderr };
}

// Asserts the run failed (exit 2) with a failure sentence matching `pattern`.
export function assertNamed(run: VerifyRun, pattern: RegExp): void {
  const list = failures(run);
  assert.is(run.exitCode, 2, `exit 2 expected, got ${run.exitCode}: ${list.join(' | ')}`);
  assert.ok(list.some((f) => pattern.test(f)), `no failure matches ${pattern}:\n  ${list.join('\n  ')}`);
}

// The failure sentences of a run, for assertions and for messages when one is missing.
export function failures(run: VerifyRun): string[] {
  return run.json.results.filter((r) => !r.ok).map((r) => r.detail ?? `${r.probe}: ${r.measured}`);
}

/** A suite of lab tests: the probe is built once, and the lab each test hands to `track` is torn down after it. */
export function labSuite(title: string): { t: Test; track: (c: CagedLab) => CagedLab } {
  const t = probeSuite(title);
  let current: CagedLab | undefined;
  t.after.each(async () => {
    await current?.lab.teardown();
    current = undefined;
  });
  return { t, track: (c) => (current = c) };
}

/**
 * A suite whose tests share one lab, made by the first `lab()` and torn down after the last test
 * (a verify lab costs ~3 s of CPU to build and cage, and the test run is CPU-bound: issue 9).
 * For tests that each add a fault of their own and assert the failure only that fault can cause:
 * a fault left by an earlier test adds failures, it cannot make a later one pass. Such a suite's
 * tests run in file order, and one that needs the lab clean (a run where everything passes) comes
 * before the first fault. `caged()` cages it once, on first use.
 */
export function sharedLabSuite(title: string): { t: Test; lab: () => Promise<CagedLab>; caged: () => Promise<CagedLab> } {
  const t = probeSuite(title);
  let made: Promise<CagedLab> | undefined;
  let caging: Promise<CagedLab> | undefined;
  const lab = () => (made ??= createVerifyLab());
  t.after(async () => {
    if (made) await (await made).lab.teardown();
  });
  return {
    t,
    lab,
    caged: () =>
      (caging ??= lab().then(async (c) => {
        await cage(c);
        return c;
      })),
  };
}

// A uvu suite that builds the probe before its first test.
function probeSuite(title: string): Test {
  const t = suite(title);
  t.before(async () => {
    await buildProbe();
  });
  return t;
}
