// Benchmark (not a test; run as root): `enforce --backend nft` in the lab against `node -e 0` in the
// same namespace — a first enforce, a second one (nothing to do) and `enforce --down` — medians of
// N runs with min and max, as ratios. Uses the built CLI (bin/nanopolicy.js → dist/): run
// `node scripts/build.js` first.
//   node --import tsx test/enforce/bench-nft-lab.ts [runs=7] [--bin path/to/bin/nanopolicy.js] [--json]

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PLAN, createLab } from '../lab/index.ts';

const args = process.argv.slice(2);
const RUNS = Math.max(5, Number(args.find((a) => /^\d+$/.test(a)) ?? 7));
const ROOT = join(import.meta.dirname, '..', '..');
// --bin: another build of the CLI (e.g. an older commit's), to compare before and after.
const BIN = args.includes('--bin') ? args[args.indexOf('--bin') + 1]! : join(ROOT, 'bin', 'nanopolicy.js');

const lab = await createLab();
const dir = mkdtempSync(join(tmpdir(), 'np-bench-'));
try {
  await lab.startTcpService('lan', PLAN.lan.services[0]!, 8080, { name: 'alpha-svc' });
  await lab.startTcpService('lan', PLAN.lan.services[1]!, 9090, { name: 'beta-svc' });
  const policy = join(dir, 'lab.policy');
  writeFileSync(policy, `vm lab-vm\nallow alpha ${PLAN.lan.services[0]}:8080 via 18080\nallow beta ha.lab.test:9090 via 18090\n`);
  const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: dir, NO_COLOR: '1' };
  const stateDir = join(dir, 'state');
  const enforce = (extra: string[]) => ['node', BIN, 'enforce', policy, '--backend', 'nft', '--state-dir', stateDir, '--home', dir, '--vm-address', lab.vmAddress, ...extra];
  const time = async (argv: string[]) => {
    const t0 = process.hrtime.bigint();
    const r = await lab.exec('host', argv, { cwd: ROOT, env, timeoutMs: 60_000 });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.exitCode !== 0) throw new Error(`${argv.join(' ')}: exit ${r.exitCode}\n${r.stderr}`);
    return ms;
  };
  const rows: Record<string, number[]> = { 'node -e 0': [], 'enforce': [], 'second enforce': [], 'enforce --down': [] };
  await time(['node', '-e', '0']); // warm the file cache
  for (let i = 0; i < RUNS; i++) {
    rows['node -e 0']!.push(await time(['node', '-e', '0']));
    rows.enforce!.push(await time(enforce([])));
    rows['second enforce']!.push(await time(enforce([])));
    rows['enforce --down']!.push(await time(enforce(['--down'])));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const base = median(rows['node -e 0']!);
  const out = Object.entries(rows).map(([what, xs]) => ({ what, medianMs: Math.round(median(xs)), minMs: Math.round(Math.min(...xs)), maxMs: Math.round(Math.max(...xs)), ratio: +(median(xs) / base).toFixed(2) }));
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(out)}\n`);
  else for (const r of out) process.stdout.write(`${r.what.padEnd(16)} median ${String(r.medianMs).padStart(5)} ms  (min ${r.minMs}, max ${r.maxMs})  ${r.ratio}x node -e 0\n`);
} finally {
  lab.teardown();
  rmSync(dir, { recursive: true, force: true });
}
