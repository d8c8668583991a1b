// Runs every test/**/*.test.ts with uvu and ends with the line CI reads: "N passed, N failed".
// uvu's own summary has no such line, and a suite whose `before` hook throws reports no failure
// at all, so each suite's counts are tallied here: a test that did not pass and was not skipped failed.
//
//   node --import tsx test/run.ts [FILTER]   runs the files whose path contains FILTER
//
// The slow files (the lab suites, which mostly wait on processes and packets, and the fake-Mac
// suites) each run in a child process of their own, concurrently with one child that runs all the
// rest, the longest first; each child's output is printed whole when it ends, and the counts are
// summed. Labs are per-process (own namespaces, own
// directory, a sweeper that spares live owners), so concurrent suites cannot see each other.
// NANOPOLICY_TEST_JOBS=1 (or a single file) runs everything in this process, in order.
// NANOPOLICY_TEST_TIMES=1 prints each child's start and wall time to stderr (to keep SLOW true).

import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

type SuiteResult = [errors: string | true, passed: number, skipped: number, total: number];
type QueuedSuite = () => Promise<SuiteResult>;
interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

/**
 * Files that take seconds (labs, real processes, the fake Mac): each gets a child process of its
 * own. The number is roughly its seconds in a full run on the 2-core test machine (four children
 * at once), only to start the longest first: a long file started last is the whole run's tail.
 * REST stands for the rest's group.
 */
const SLOW: Array<[RegExp, number]> = [
  [/\/enforce\/lifecycle\.test\.ts$/, 40],
  [/\/soak\/soak-short-lab\.test\.ts$/, 40],
  [/\/enforce-nft-lab\.test\.ts$/, 31],
  [/\/verify-lab\.test\.ts$/, 30],
  [/\/proxy-lab\.test\.ts$/, 29],
  [/\/spoof-lab\.test\.ts$/, 28],
  [/\/enforce-pf(-\w+)?\.test\.ts$/, 26],
  [/\/forger-lab\.test\.ts$/, 22],
  [/\/verify-faults-lab\.test\.ts$/, 19],
  [/-lab\.test\.ts$/, 30],
  [/\/snapshots\/snapshots\.test\.ts$/, 23],
  [/\/lab\/lab\.test\.ts$/, 21],
  [/\/lab\/exit-trap\.test\.ts$/, 15],
  [/\/enforce\/supervise\.test\.ts$/, 10],
  [/\/verify\/probes\.test\.ts$/, 4],
];
const REST = 45;
const CHILD_FLAG = '--files';
/**
 * Each child gets a slot number of its own (NANOPOLICY_TEST_SLOT): suites that must hold a real
 * resource of the root namespace, such as the fake Mac's bridge ports, offset it by the slot.
 * NANOPOLICY_TEST_SLOT_BASE starts the numbering elsewhere, so two runs (two checkouts) at once
 * do not share slots.
 */
let slots = Number(process.env.NANOPOLICY_TEST_SLOT_BASE ?? 0);

const root = join(import.meta.dirname, '..');
const childFiles = process.argv[2] === CHILD_FLAG ? (process.argv[3] ?? '').split('\n').filter(Boolean) : undefined;
const filter = childFiles ? undefined : process.argv[2];
const files = childFiles ?? findTests(join(root, 'test')).filter((f) => !filter || f.includes(filter));
const jobs = Number(process.env.NANOPOLICY_TEST_JOBS ?? Math.max(4, cpus().length * 2));

const counts = childFiles || files.length <= 1 || jobs <= 1 ? await runHere(files) : await runInChildren(planGroups(files), jobs);
process.stdout.write(`${counts.passed} passed, ${counts.failed} failed${counts.skipped ? `, ${counts.skipped} skipped` : ''}\n`);
process.exitCode = counts.failed > 0 || files.length === 0 ? 1 : 0;

// Imports the files into uvu's deferred queue, wraps every suite to tally it, runs them in order.
async function runHere(list: readonly string[]): Promise<Counts> {
  const g = globalThis as unknown as { UVU_DEFER: number; UVU_QUEUE: Array<Array<string | QueuedSuite>>; UVU_INDEX: number };
  g.UVU_DEFER = 1;
  g.UVU_QUEUE = [];
  const uvu = await import('uvu');
  const c: Counts = { passed: 0, failed: 0, skipped: 0 };
  let index = 0;
  for (const file of list) {
    g.UVU_INDEX = index++;
    g.UVU_QUEUE.push([relative(root, file)]);
    try {
      await import(pathToFileURL(file).href);
    } catch (error) {
      c.failed++;
      process.stdout.write(`\n✘ ${relative(root, file)} failed to load: ${(error as Error).stack ?? error}\n`);
    }
  }
  for (const group of g.UVU_QUEUE) {
    for (let i = 1; i < group.length; i++) {
      const suite = group[i] as QueuedSuite;
      group[i] = async () => {
        const result = await suite();
        const [, ran, skip, total] = result;
        c.passed += ran;
        c.skipped += skip;
        c.failed += Math.max(0, total - ran);
        return result;
      };
    }
  }
  await uvu.exec(false);
  return c;
}

// The slow files one per group, every other file in one group; the longest first.
function planGroups(list: readonly string[]): string[][] {
  const weight = (f: string) => SLOW.find(([re]) => re.test(f))?.[1];
  const slow = list.filter((f) => weight(f) !== undefined);
  const rest = list.filter((f) => weight(f) === undefined);
  const groups: Array<[string[], number]> = [...slow.map((f): [string[], number] => [[f], weight(f)!]), ...(rest.length ? [[rest, REST] as [string[], number]] : [])];
  return groups.sort((a, b) => b[1] - a[1]).map(([g]) => g);
}

// Runs each group in a child (at most `limit` at once); prints each child's output when it ends.
async function runInChildren(groups: readonly string[][], limit: number): Promise<Counts> {
  const total: Counts = { passed: 0, failed: 0, skipped: 0 };
  const queue = [...groups];
  const worker = async () => {
    for (let group = queue.shift(); group; group = queue.shift()) {
      const { output, counts } = await runChild(group);
      process.stdout.write(output.replace(/^\d+ passed, \d+ failed(?:, \d+ skipped)?\n?$/m, ''));
      total.passed += counts.passed;
      total.failed += counts.failed;
      total.skipped += counts.skipped;
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, groups.length) }, worker));
  return total;
}

// One child: `node --import tsx test/run.ts --files <list>`; its counts come from its last line.
function runChild(group: readonly string[]): Promise<{ output: string; counts: Counts }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, import.meta.filename, CHILD_FLAG, group.join('\n')], {
      cwd: process.cwd(),
      env: { ...process.env, NANOPOLICY_TEST_SLOT: String(++slots) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('close', (code, signal) => {
      if (process.env.NANOPOLICY_TEST_TIMES) {
        const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
        process.stderr.write(`time: ${s(performance.now() - started)} from ${s(started)} ${group.length === 1 ? relative(root, group[0]!) : `the rest (${group.length} files)`}\n`);
      }
      const m = /^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$/m.exec(output);
      if (!m) {
        // A child that died without its summary line is a failure, whatever it had counted.
        const names = group.map((f) => relative(root, f)).join(', ');
        resolve({ output: `${output}\n✘ ${names}: the test process ended (${code ?? signal}) without a summary\n`, counts: { passed: 0, failed: 1, skipped: 0 } });
        return;
      }
      const counts = { passed: Number(m[1]), failed: Number(m[2]), skipped: Number(m[3] ?? 0) };
      // A child that failed to exit cleanly after a clean count still fails the run.
      if (code !== 0 && counts.failed === 0) counts.failed = 1;
      resolve({ output, counts });
    });
  });
}

function findTests(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (name === 'fixtures' || name === 'node_modules') continue;
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}
