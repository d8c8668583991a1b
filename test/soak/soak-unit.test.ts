// The soak's pure parts, attacked: the audit matching must find a tunnel whose record never came
// (not lend it a neighbour's), flatness must see growth and refuse to judge on too few samples,
// and a check that could not run must fail.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { matchAllowed, parseAudit, type AllowedConnection, type AuditLine } from './audit-match.ts';
import { trends } from './flatness.ts';
import { evaluate } from './checks.ts';
import type { SoakResult } from './run-soak.ts';
import type { Sample } from './sampler.ts';

const t = suite('soak: pure parts');
const T = Date.parse('2026-01-01T00:00:00Z');
const rec = (start: number, durationMs: number, name = 'echo.soak.test', decision = 'allowed'): AuditLine => ({ time: new Date(T + start).toISOString(), name, decision, durationMs });
const conn = (start: number, end: number, who = 'c'): AllowedConnection => ({ name: 'echo.soak.test', start: T + start, end: T + end, who });

t('a long tunnel killed without a record is the one missing, though short ones in its window have theirs', () => {
  const conns = [conn(0, 9000, 'long'), ...[1000, 2000, 3000].map((s) => conn(s, s + 10, 'short'))];
  const records = [1000, 2000, 3000].map((s) => rec(s, 10));
  const m = matchAllowed(conns, records);
  assert.is(m.matched, 3);
  assert.equal(m.missing.map((x) => x.who), ['long']);
});

t('among many short connections, the one whose record is lost is the one named missing', () => {
  const starts = Array.from({ length: 40 }, (_, i) => i * 300);
  const conns = starts.map((s) => conn(s, s + 20, `short@${s}`));
  const records = starts.filter((s) => s !== 3000).map((s) => rec(s + 2, 19));
  const m = matchAllowed(conns, records);
  assert.equal(m.missing.map((x) => x.who), ['short@3000']);
});

t('a record written at the opening (no end known) still counts; a refused one or another name never does', () => {
  assert.is(matchAllowed([conn(0, 60_000)], [rec(5, 0)]).matched, 1);
  assert.is(matchAllowed([conn(0, 10)], [rec(0, 10, 'echo.soak.test', 'refused')]).matched, 0);
  assert.is(matchAllowed([conn(0, 10)], [rec(0, 10, 'other.soak.test')]).matched, 0);
  assert.is(matchAllowed([conn(0, 10)], [rec(20_000, 10)]).matched, 0, 'a record far later is another connection');
});

t('one record never stands for two connections, whatever the order (property)', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 20_000 }), { maxLength: 30 }), fc.array(fc.integer({ min: 0, max: 20_000 }), { maxLength: 30 }), (cs, rs) => {
      const m = matchAllowed(cs.map((s) => conn(s, s + 5)), rs.map((s) => rec(s, 5)));
      assert.ok(m.matched <= rs.length && m.matched <= cs.length);
      assert.is(m.matched + m.missing.length, cs.length);
    }),
  );
});

t('parseAudit counts a torn line instead of throwing', () => {
  const p = parseAudit(`${JSON.stringify(rec(0, 1))}\n{"time":"2026-01-01T0\n`);
  assert.is(p.records.length, 1);
  assert.is(p.unreadable, 1);
});

const series = (role: string, rss: (i: number) => number, fds: (i: number) => number, n = 40): Sample[] => Array.from({ length: n }, (_, i) => ({ at: i * 1000, role, pid: 1, rssKiB: rss(i), fds: fds(i) }));

t('flatness: steady is flat; a growing heap or fd count is not; too few samples is no verdict', () => {
  assert.ok(trends(series('p', () => 50_000, () => 20))[0]!.flat);
  assert.not.ok(trends(series('p', (i) => 50_000 + i * 2000, () => 20))[0]!.flat, 'RSS leak');
  assert.not.ok(trends(series('p', () => 50_000, (i) => 20 + i))[0]!.flat, 'fd leak');
  const few = trends(series('p', () => 50_000, () => 20, 5))[0]!;
  assert.not.ok(few.flat);
  assert.match(few.note!, /only 5 samples/);
});

t('flatness: the window starts after the warm-up, but the peak counts it', () => {
  const s = series('p', (i) => (i < 10 ? 90_000 : 50_000), () => 20);
  const [tr] = trends(s, 10_000);
  assert.ok(tr!.flat);
  assert.is(tr!.rssPeakKiB, 90_000);
});

t('flatness: a restarted process climbing back to the warm-up peak is flat; past it, it is not', () => {
  const back = series('p', (i) => (i < 10 ? 88_000 : i < 20 ? 50_000 : 87_000), () => 20);
  assert.ok(trends(back, 10_000)[0]!.flat);
  const past = series('p', (i) => (i < 10 ? 88_000 : i < 20 ? 50_000 : 88_000 + 20_000 + i * 1000), () => 20);
  assert.not.ok(trends(past, 10_000)[0]!.flat);
});

// A result in which everything held, to break one piece at a time.
function clean(): Omit<SoakResult, 'checks'> {
  const roles = ['supervisor', 'proxy', 'bridge:alpha', 'bridge:beta'];
  return {
    options: {} as SoakResult['options'],
    startedAt: T,
    ranMs: 30_000,
    faults: ['socat-child', 'socat-listener', 'proxy', 'supervisor', 'flood', 'rebind', 'dns-stall'].map((kind, i) => ({ kind: kind as SoakResult['faults'][number]['kind'], at: i * 1000, detail: '', recoveredMs: 500 })),
    connections: ['alpha', 'beta', 'proxy'].map((target) => ({ target, pattern: 'short', start: T, end: T + 5, sent: 10, echoed: 10, outcome: 'intact' as const, tunnel: target === 'proxy' })),
    audit: { expected: 1, matched: 1, missing: [], lines: 1, allowed: 1, refused: 0, rotated: false, unreadable: 0 },
    trends: trends(roles.flatMap((r) => series(r, () => 5000, () => 7))),
    canary: { attempts: 10, reached: [], serviceHits: { canary: 0 }, fromVm: { alpha: 0 } },
    sweeps: [{ at: 0, open: [13128], unexpected: [], counts: { refused: 65534, open: 1 }, ms: 1 }],
    teardown: { code: 0, leftovers: [], tableGone: true },
  };
}
const verdicts = (r: Omit<SoakResult, 'checks'>) => Object.fromEntries(evaluate(r, 2000).map((c) => [c.name, c.ok]));

t('checks: a clean result passes every check', () => {
  assert.equal(Object.values(verdicts(clean())), [true, true, true, true, true, true, true]);
});

t('checks: each silent failure fails its check', () => {
  const corrupt = clean();
  corrupt.connections.push({ ...corrupt.connections[0]!, outcome: 'corrupt' });
  assert.is(verdicts(corrupt).bytes, false);
  const lost = clean();
  lost.audit = { ...lost.audit, expected: 2, matched: 1, missing: [conn(0, 1)] };
  assert.is(verdicts(lost).records, false);
  const opened = clean();
  opened.sweeps[0]!.unexpected = [22];
  assert.is(verdicts(opened).cage, false);
  const reached = clean();
  reached.canary.reached.push({ host: '198.51.100.11', port: 7777, at: 0 });
  assert.is(verdicts(reached).cage, false);
  const slow = clean();
  slow.faults[2]!.recoveredMs = 2000;
  assert.is(verdicts(slow).recovery, false, 'equal to the interval is not under it');
  const left = clean();
  left.teardown.leftovers.push('123 socat TCP4-LISTEN:18080');
  assert.is(verdicts(left).teardown, false);
});

t('checks: what did not run is no pass — no traffic, no sweep, no fault, no record expected', () => {
  const idle = clean();
  idle.connections = idle.connections.filter((c) => c.target !== 'beta');
  assert.is(verdicts(idle).bytes, false);
  const unswept = clean();
  unswept.sweeps = [{ ...unswept.sweeps[0]!, counts: { refused: 100 } }];
  assert.is(verdicts(unswept).cage, false, 'a partial sweep is not a sweep');
  const calm = clean();
  calm.faults = calm.faults.filter((f) => f.kind !== 'dns-stall');
  assert.is(verdicts(calm).recovery, false);
  const none = clean();
  none.audit = { ...none.audit, expected: 0, matched: 0 };
  assert.is(verdicts(none).records, false);
  const unsampled = clean();
  unsampled.trends = unsampled.trends.filter((x) => x.role !== 'proxy');
  assert.is(verdicts(unsampled).flat, false);
  const aborted = clean();
  aborted.aborted = 'the lab did not start';
  assert.is(verdicts(aborted).ran, false);
});

t.run();
