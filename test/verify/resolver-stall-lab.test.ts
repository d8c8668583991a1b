// End-to-end: verify ends within its budget whatever the VM's resolver does (issue 24). The VM's
// DNS is dropped silently, as softnet does, and its resolver waits as a system's does (5 s, twice):
// a getaddrinfo in the probe's own process would hold it (and the host waiting for it) ~10 s past
// the report, since Node joins its pool threads at exit.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { PLAN, requireLab } from '../lab/index.ts';
import { cliArgs } from '../helpers/cli-process.ts';
import { buildVerifyManifest } from '../../src/compiler/emit/verify-manifest.ts';
import { ROOT, failures, runVerify, sharedLabSuite, WITHOUT_SWEEP } from './lab-setup.ts';

const available = requireLab('verify with a stalled resolver');
const { t, caged } = sharedLabSuite('verify: a resolver that never answers');

/** The lab's probe timeout (lab-setup's --timeout 400): every DNS wait of the probe is this or twice it. */
const TIMEOUT_MS = 400;
/** What either run may take in all: the probes' waits, a few node starts, a loaded machine. Far below the resolver's 10 s. */
const WALL_MS = 5000;

// A caged lab whose VM asks a resolver that never answers, and waits as long as a real system does.
async function stalled() {
  const c = await caged();
  c.lab.setResolvers('vm', [PLAN.wan.dns], { timeoutS: 5, attempts: 2 });
  await c.lab.faults.dropDnsSilently();
  return c;
}

t('verify --inside ends within its budget, the system resolver row says it timed out', async () => {
  const c = await stalled();
  const manifest = join(c.lab.dir, 'verify.json');
  writeFileSync(manifest, `${JSON.stringify(buildVerifyManifest(c.policy))}\n`);
  const insideArgs = ['--egress', `${PLAN.wan.web}:443`, '--dns-servers', PLAN.wan.dns, '--dns-name', 'web.lab.test', '--timeout', String(TIMEOUT_MS), '--skip', 'gateway,mounts,bridges,direct'];
  const started = performance.now();
  const r = await c.lab.exec('vm', ['node', ...(await cliArgs()), 'verify', '--inside', manifest, ...insideArgs, '--json'], { cwd: ROOT, timeoutMs: 60_000 });
  const wall = performance.now() - started;
  const json = JSON.parse(r.stdout) as { results: Array<{ probe: string; measured: string; ok: boolean }> };
  const system = json.results.find((x) => x.probe.startsWith('system resolver'));
  // The resolver really was asked and really stalled: otherwise this test could not fail.
  assert.is(system?.measured, 'does not resolve (ETIMEOUT)', JSON.stringify(system));
  assert.ok(wall < WALL_MS, `verify --inside took ${Math.round(wall)} ms with the resolver stalled (budget ${WALL_MS} ms)`);
  assert.is(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
});

t('verify from the host ends within its budget, and the stall costs no check', async () => {
  const c = await stalled();
  const started = performance.now();
  const run = await runVerify(c, WITHOUT_SWEEP);
  const wall = performance.now() - started;
  const system = run.json.results.find((x) => x.probe.startsWith('system resolver'));
  assert.is(system?.measured, 'does not resolve (ETIMEOUT)', JSON.stringify(system));
  assert.ok(wall < WALL_MS, `verify from the host took ${Math.round(wall)} ms with the VM's resolver stalled (budget ${WALL_MS} ms)`);
  assert.equal(failures(run), []);
  assert.is(run.exitCode, 0);
});

if (available) t.run();
