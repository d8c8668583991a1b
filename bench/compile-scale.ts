// Benchmark: how `nanopolicy check` scales with the size of a policy (issue 9's compile rows).
//
//   npm run build && node --import tsx bench/compile-scale.ts [RUNS]
//
// Runs the built CLI (bin/nanopolicy.js) on generated policies in a temporary folder: the bundled
// policy (reference), 10,000 and 30,000 valid statements (bridges and mounts), and 10,000 and 30,000
// lines that are each a syntax error (text mode). Prints medians (min–max) of RUNS runs (default 5) of
// wall time and of CPU time (user+sys, from /usr/bin/time when present: steadier on a busy machine),
// the cost over the bundled policy, and the 30k/10k ratio, which is ~3 when compile is linear.
// Offline: no packets, no names resolved.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const root = join(import.meta.dirname, '..');
const runs = Number(process.argv[2] ?? 5);
const dir = mkdtempSync(join(tmpdir(), 'np-bench-compile-'));

// A valid policy of n statements: 1,000 bridges (pf's macro holds about 1,300 ports) and mounts of
// sibling folders for the rest.
function validPolicy(n: number): string {
  const lines = ['vm bench-vm', 'network softnet subnet 192.168.64.0/24 gateway 192.168.64.1'];
  for (let i = 0; lines.length < n; i++) {
    if (i < 1000) lines.push(`allow b${i} 10.0.${(i >> 8) & 255}.${(i & 255) || 1}:443 via ${2000 + i}`);
    else lines.push(`mount m${i} ~/nanoclaw/share-${i} ro`);
  }
  return `${lines.join('\n')}\n`;
}

// n lines that each fail to parse.
function syntaxErrors(n: number): string {
  return `${Array.from({ length: n }, (_, i) => `allow x${i} 10.0.0.1: via 18000`).join('\n')}\n`;
}

const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

function time(file: string): { ms: number; cpuMs: number; code: number } {
  const argv = [process.execPath, join(root, 'bin/nanopolicy.js'), 'check', file, '--home', '/Users/owner'];
  const [command, ...args] = TIME ? [TIME, '-f', '@cpu %U %S', ...argv] : argv;
  const t0 = performance.now();
  const r = spawnSync(command!, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 1 << 30 });
  const ms = performance.now() - t0;
  const cpu = /@cpu ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr ?? '');
  return { ms, cpuMs: cpu ? (Number(cpu[1]) + Number(cpu[2])) * 1000 : NaN, code: r.status ?? -1 };
}

interface Measured {
  med: number;
  min: number;
  max: number;
  cpu: number;
  code: number;
}

function measure(file: string): Measured {
  const ms: number[] = [];
  const cpu: number[] = [];
  let code = 0;
  for (let i = 0; i < runs; i++) {
    const r = time(file);
    ms.push(r.ms);
    cpu.push(r.cpuMs);
    code = r.code;
  }
  ms.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  return { med: ms[Math.floor(ms.length / 2)]!, min: ms[0]!, max: ms.at(-1)!, cpu: cpu[Math.floor(cpu.length / 2)]!, code };
}

try {
  const cases: Array<[string, string]> = [
    ['bundled policy', join(root, 'policy/nanoclaw.policy')],
    ['10,000 statements', write('valid-10k.policy', validPolicy(10_000))],
    ['30,000 statements', write('valid-30k.policy', validPolicy(30_000))],
    ['10,000 syntax errors', write('errors-10k.policy', syntaxErrors(10_000))],
    ['30,000 syntax errors', write('errors-30k.policy', syntaxErrors(30_000))],
  ];
  const results = new Map<string, Measured>();
  const f = (ms: number) => `${(ms / 1000).toFixed(3)} s`;
  for (const [name, file] of cases) {
    const r = measure(file);
    results.set(name, r);
    process.stdout.write(`${name.padEnd(22)} wall ${f(r.med)}  (${f(r.min)} – ${f(r.max)})  cpu ${f(r.cpu)}  exit ${r.code}\n`);
  }
  for (const key of ['med', 'cpu'] as const) {
    const base = results.get('bundled policy')![key];
    const over = (name: string) => results.get(name)![key] - base;
    const what = key === 'med' ? 'wall' : 'cpu';
    process.stdout.write(`\n${what}:\n`);
    process.stdout.write(`  10,000 statements over bundled: +${f(over('10,000 statements'))} (goal ≤ +0.200 s)\n`);
    process.stdout.write(`  30k/10k statements (over bundled): ${(over('30,000 statements') / over('10,000 statements')).toFixed(2)}× (linear ≈ 3)\n`);
    process.stdout.write(`  10,000 syntax errors: ${f(results.get('10,000 syntax errors')![key])} (goal ≤ 2 s)\n`);
    process.stdout.write(`  30k/10k syntax errors (over bundled): ${(over('30,000 syntax errors') / over('10,000 syntax errors')).toFixed(2)}× (linear ≈ 3)\n`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
