// Benchmark: a full `nanopolicy verify` in the lab (gateway sweep included) against
// `nmap -sT -p- -n -Pn <gateway>` from the same VM namespace. Lab addresses only (domain.md §7).
//
//   npm run bench [-- RUNS]      (builds first; root; ip, nft, socat, nmap)
//
// Prints nmap's time, the probe's sweep time and whole verify time, their ratios, the probe's peak
// RSS and the most sockets it had open against its limit. Medians over RUNS (default 5).

import { performance } from 'node:perf_hooks';
import { buildProbe, cage, createVerifyLab, runVerify } from '../test/verify/lab-setup.ts';

const runs = Number(process.argv[2] ?? 5);
await buildProbe();
const c = await createVerifyLab();
try {
  await cage(c);
  const nmapMs: number[] = [];
  const sweepMs: number[] = [];
  const verifyMs: number[] = [];
  let rss = 0;
  let maxOpen = 0;
  let limit = 0;
  let engine = '';
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const nmap = await c.lab.exec('vm', ['nmap', '-sT', '-p-', '-n', '-Pn', c.lab.gateway], { timeoutMs: 120_000 });
    nmapMs.push(performance.now() - t0);
    if (nmap.exitCode !== 0) throw new Error(`nmap failed: ${nmap.stderr}`);
    const t1 = performance.now();
    const run = await runVerify(c, [], { built: true });
    verifyMs.push(performance.now() - t1);
    if (!run.json.ok) throw new Error(`verify did not pass in the caged lab: ${JSON.stringify(run.json.results.filter((r) => !r.ok))}`);
    const s = run.json.inside as unknown as { sweepMs: number; peakRssBytes: number; maxSocketsOpen: number; socketLimit: number; engine: string };
    sweepMs.push(s.sweepMs);
    rss = Math.max(rss, s.peakRssBytes);
    maxOpen = Math.max(maxOpen, s.maxSocketsOpen);
    limit = s.socketLimit;
    engine = s.engine;
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const n = med(nmapMs);
  const lines = [
    `lab caged by enforce --backend nft; ${runs} runs, medians; target ${c.lab.gateway} (65,533 ports swept)`,
    `nmap -sT -p- -n -Pn (wall, from the vm namespace): ${n.toFixed(0)} ms`,
    `verify gateway sweep (inside the probe):          ${med(sweepMs).toFixed(0)} ms  ratio ${(med(sweepMs) / n).toFixed(2)}x`,
    `full verify (host checks, canaries, all probes):  ${med(verifyMs).toFixed(0)} ms  ratio ${(med(verifyMs) / n).toFixed(2)}x (node bin/nanopolicy.js, start-up included)`,
    `probe peak RSS: ${(rss / 1048576).toFixed(1)} MB; max sockets open: ${maxOpen} of a limit of ${limit}; engine: ${engine}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await c.lab.teardown();
}
