// The benchmark's row runner and report on trivial commands: samples per step, peak memory,
// an unexpected exit stops it, figures computed from medians, text and JSON readable.
// (No timing is asserted: the bench reports times, npm test never fails on one.)

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runOnce, runSeries } from '../../bench/measure.ts';
import { makeRow, median, stats } from '../../bench/summarize.ts';
import { formatJson, formatText } from '../../bench/format-report.ts';
import { isBusy, MachineGauge, summarizeMachine } from '../../bench/machine-gauge.ts';
import { policyOfShape, policyWithStatements, policyWithSyntaxErrors, SHAPES } from '../../bench/generate-policy.ts';
import { compilePolicy } from '../../src/compiler/compile.ts';
import { parsePolicy } from '../../src/grammar/parse-policy.ts';

const t = suite('bench: row runner and report');

t('runSeries runs each step once per round, in order, and reports time and peak memory', async () => {
  const order: string[] = [];
  const samples = await runSeries(
    {
      node: { cmd: { argv: [process.execPath, '-e', '0'] }, before: async () => void order.push('node') },
      exit3: { cmd: { argv: ['sh', '-c', 'exit 3'], exitCodes: [3] }, before: async () => void order.push('exit3') },
    },
    3,
    1,
  );
  assert.equal(order, ['node', 'exit3', 'node', 'exit3', 'node', 'exit3', 'node', 'exit3'], 'one warm-up round, then three');
  assert.is(samples.node!.length, 3);
  assert.is(samples.exit3!.length, 3);
  for (const s of samples.node!) {
    assert.ok(s.ms > 0);
    // /usr/bin/time is what reports peak memory; CI installs it, so there it must work.
    if (existsSync('/usr/bin/time') || process.env.CI) assert.ok((s.peakKb ?? 0) > 1000, `node's peak RSS in KiB: ${s.peakKb}`);
  }
});

t('an unexpected exit code stops the benchmark with the output tail', async () => {
  try {
    await runOnce({ argv: ['sh', '-c', 'echo broken-output >&2; exit 5'] });
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.match((e as Error).message, /exited 5/);
    assert.match((e as Error).message, /broken-output/);
  }
});

t('keepStdout keeps what the command printed', async () => {
  const s = await runOnce({ argv: ['sh', '-c', 'echo "{\\"a\\":1}"'], keepStdout: true });
  assert.equal(JSON.parse(s.stdout ?? ''), { a: 1 });
});

t('figures: ratio, delta, absolute and growth from medians; goals met or missed', () => {
  const mk = (label: string, ms: number[]) => stats(label, label, ms.map((m) => ({ ms: m, peakKb: 2048 })));
  const all = { ref: mk('ref', [100, 90, 110]), sub: mk('sub', [150, 400, 140]), small: mk('small', [120, 120, 120]) };
  assert.is(median([1, 2, 3, 4]), 2.5);
  assert.is(all.sub.medianMs, 150);
  assert.is(all.sub.maxMs, 400);
  const ratio = makeRow({ id: 'r', title: 'ratio row', subject: 'sub', reference: 'ref', figure: { kind: 'ratio' }, goal: 1.3 }, all);
  assert.is(ratio.figure, 1.5);
  assert.is(ratio.met, false);
  const delta = makeRow({ id: 'd', title: 'delta row', subject: 'sub', reference: 'ref', figure: { kind: 'delta' }, goal: 60 }, all);
  assert.is(delta.figure, 50);
  assert.is(delta.met, true);
  assert.is(makeRow({ id: 'a', title: 'abs', subject: 'sub', figure: { kind: 'absolute' } }, all).figure, 150);
  assert.is(makeRow({ id: 'g', title: 'growth', subject: 'sub', reference: 'ref', figure: { kind: 'growth', small: 'small' } }, all).figure, 2.5);
  assert.throws(() => makeRow({ id: 'x', title: 'x', subject: 'missing', figure: { kind: 'absolute' } }, all), /no measurements for "missing"/);

  const report = { machine: { cpus: 2, loadavg: [1, 1, 1], node: 'v20', when: 'now' }, rows: [ratio, delta], failures: ['verify: it broke'] };
  const text = formatText(report);
  assert.match(text, /ratio row\n {2}subject +150\.0 ms {2}\[140\.0 ms … 400\.0 ms\] {2}peak 2\.0 MB {2}3 runs {2}sub\n {2}vs +100\.0 ms/);
  assert.match(text, /=> 1\.50× {3}goal ≤ 1\.3×: MISSED/);
  assert.match(text, /=> \+50\.0 ms {3}goal ≤ 60\.0 ms: met/);
  assert.match(text, /Summary\n {2}row +figure +goal\n {2}ratio row +1\.50× +≤ 1\.3× +MISSED/);
  assert.match(text, /FAILED verify: it broke/);
  const json = JSON.parse(formatJson(report)) as typeof report;
  assert.is(json.rows[0]!.figure, 1.5);
  assert.is(json.rows[0]!.subject.peakKb, 2048);
});

t('the machine gauge: a round is busy when a core was taken or one ran slow; rows say so', () => {
  // Two cores; the run's fastest single-thread loop took 20 ms.
  const whole = { freeCores: 1.9, soloMs: 21 };
  const coreTaken = { freeCores: 1.05, soloMs: 20 };
  const slowCore = { freeCores: 2, soloMs: 30 };
  assert.not.ok(isBusy(whole, 2, 20));
  assert.ok(isBusy(coreTaken, 2, 20), 'one of two cores free');
  assert.ok(isBusy(slowCore, 2, 20), 'a core at 0.67× the run\'s best');
  assert.is(summarizeMachine([], 2, 20), undefined);
  const m = summarizeMachine([whole, coreTaken, slowCore, whole], 2, 20)!;
  assert.equal({ ...m, worstSpeed: Number(m.worstSpeed.toFixed(3)) }, { cores: 2, rounds: 4, busyRounds: 2, worstFreeCores: 1.05, worstSpeed: 0.667 });

  const all = { ref: stats('ref', 'ref', [{ ms: 100 }]), sub: stats('sub', 'sub', [{ ms: 150 }]) };
  const spec = { id: 'd', title: 'delta row', subject: 'sub', reference: 'ref', figure: { kind: 'delta' as const }, goal: 60 };
  const busy = makeRow(spec, all, { sub: m });
  const quiet = makeRow({ ...spec, id: 'q', title: 'quiet row' }, all, { sub: summarizeMachine([whole, whole], 2, 20)! });
  assert.equal(busy.machine, m, 'the subject\'s rounds');
  assert.is(makeRow(spec, all).machine, undefined, 'no gauge, no machine');
  const text = formatText({ machine: { cpus: 2, loadavg: [0, 0, 0], node: 'v20', when: 'now' }, rows: [busy, quiet], failures: [] });
  assert.match(text, /machine BUSY in 2 of 4 rounds \(1\.1 of 2 cores free at worst, one core at 0\.67× the run's best\)/);
  assert.match(text, /machine whole in all 2 rounds/);
  assert.match(text, /row +figure +goal +machine\n {2}delta row +\+50\.0 ms +≤ 60\.0 ms +met +busy 2\/4\n {2}quiet row .* whole machine/);
  assert.match(text, /Busy rows measure the machine as much as the code: rerun them\./);
});

t('the machine gauge reads any machine: cores free within its count, a loop time, no error', async () => {
  // No time is asserted (the test runner's own load decides the figures), only their shape.
  const gauge = await MachineGauge.start(2);
  try {
    const r = await gauge.read();
    assert.ok(r.freeCores > 0 && r.freeCores <= 2, `free cores: ${r.freeCores}`);
    assert.ok(r.soloMs > 0, `loop: ${r.soloMs} ms`);
  } finally {
    await gauge.close();
  }
});

t('generated inputs: N unique statements over the bundled policy; N syntax-error lines', () => {
  const text = policyWithStatements('vm v\n', 4);
  assert.is(text.split('\n').filter((l) => /^(allow|mount) /.test(l)).length, 4);
  assert.match(text, /^vm v\n/);
  assert.is(policyWithSyntaxErrors(3).split('\n').filter((l) => l.startsWith('allw ')).length, 3);
});

t('every generated shape is a valid policy of N more statements: the rows time the success path', () => {
  const bundled = readFileSync(join(import.meta.dirname, '../../policy/nanoclaw.policy'), 'utf8');
  for (const shape of SHAPES) {
    const source = policyOfShape(bundled, 1200, shape);
    const { diagnostics } = compilePolicy({ file: 'p.policy', source, home: '/Users/owner', cwd: '/', lower: false });
    assert.equal(diagnostics.filter((d) => d.severity === 'error'), [], shape);
    const { ast } = parsePolicy(source, 'p.policy');
    assert.is(ast.statements.length - parsePolicy(bundled, 'b').ast.statements.length, 1200, shape);
  }
});

t.run();
