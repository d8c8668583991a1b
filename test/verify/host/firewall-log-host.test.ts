// verify's firewall-log rows (src/verify/host/firewall-log-host.ts): a direct dial counts only when
// the collector's file gained a refused record for exactly that address and port after the mark;
// an old record, another port, or no collector at all fail.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkFirewallLog, type FirewallLogMark } from '../../../src/verify/host/firewall-log-host.ts';

const dir = mkdtempSync(join(tmpdir(), 'np-fwlog-'));
const path = join(dir, 'firewall-refused.jsonl');
const rec = (name: string, port: number) => `${JSON.stringify({ time: '2026-12-07T18:00:00.000Z', door: 'firewall', client: '192.168.64.2', name, port, decision: 'refused', reason: 'x', bytesUp: 0, bytesDown: 0, durationMs: 0, count: 2 })}\n`;
const DIRECT = [{ host: '203.0.113.20', port: 443, label: 'api.example.test' }];

test('a record written after the mark for the address and port passes; an older one or another port does not', async () => {
  writeFileSync(path, rec('203.0.113.20', 443));
  const mark: FirewallLogMark = { path, offset: rec('203.0.113.20', 443).length, collector: true };
  appendFileSync(path, rec('203.0.113.20', 8443));
  const missing = await checkFirewallLog(mark, DIRECT, 300);
  assert.equal(missing.map((r) => [r.ok, r.measured]), [[false, 'NOT LOGGED']]);
  assert.match(missing[0]!.detail ?? '', /nanopolicy log --refused/);
  appendFileSync(path, rec('203.0.113.20', 443));
  assert.equal((await checkFirewallLog(mark, DIRECT, 300)).map((r) => [r.ok, r.measured]), [[true, 'logged, refused']]);
});

test('no collector recorded by enforce is a failure, not a pass', async () => {
  const rows = await checkFirewallLog({ path, offset: 0, collector: false }, DIRECT, 0);
  assert.equal(rows.map((r) => [r.ok, r.measured]), [[false, 'NO COLLECTOR']]);
  assert.equal(await checkFirewallLog({ path, offset: 0, collector: false }, [], 0), [], 'nothing dialled, nothing to check');
});

test.run();
