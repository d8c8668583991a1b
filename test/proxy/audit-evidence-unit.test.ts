// Evidence survives: a flood of refusals never rotates an allowed record out of the audit log,
// refusals are summarised per client (allowed clients and strangers alike), and a tunnel is on
// record from the moment it opens, so a proxy killed with -9 leaves a line for every tunnel.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect } from 'node:net';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAuditLog } from '../../src/proxy/audit-log.ts';
import type { AuditRecord } from '../../src/proxy/config.ts';
import { UPSTREAM_ADDRESS, echo, eventually, readAudit, request, startHarness, startTlsUpstream, tlsThrough } from './proxy-harness.ts';

const refused = (n: number): AuditRecord => ({ time: new Date(n).toISOString(), client: '192.168.64.2', name: `n${n}.example.test`, port: 443,
  decision: 'refused', reason: 'name not listed', bytesUp: 0, bytesDown: 0, durationMs: 1 });
const allowed = (n: number): AuditRecord => ({ ...refused(n), name: 'api.example.test', decision: 'allowed', reason: 'tunnel closed', rule: 'api' });

test('rotation: allowed records are carried over, refusals are what a flood pushes out', () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-audit-'));
  const path = join(dir, 'audit.jsonl');
  const log = openAuditLog(path, 4096);
  log.write(allowed(1));
  log.write({ ...allowed(2), event: 'open' });
  // Twenty files' worth of refusals: the old log.1 is replaced many times over.
  for (let i = 0; i < 500; i++) log.write(refused(100 + i));
  log.close();
  const all = [...readAudit(`${path}.1`), ...readAudit(path)];
  const kept = all.filter((r) => r.decision === 'allowed');
  assert.equal(kept.map((r) => r.time), [allowed(1).time, allowed(2).time], 'both allowed records survive, in order, once');
  assert.ok(all.some((r) => r.name === 'n599.example.test'), 'the newest refusal is there');
  assert.ok(!existsSync(`${path}.1.new`));
  rmSync(dir, { recursive: true });
});

test('proxy: 3000 refused CONNECTs in a burst leave the allowed tunnel on record and one summary with their count', async () => {
  const up = await startTlsUpstream(['api.example.test']);
  const h = await startHarness({ hosts: { 'api.example.test': [UPSTREAM_ADDRESS] }, upstreamPort: up.port,
    config: { auditRotateBytes: 8192, maxConnections: 4000 }, deps: { refusals: { windowMs: 300, perWindow: 20 } } });
  try {
    const { tls } = await tlsThrough(h.proxy.address.port, 'api.example.test:443', 'api.example.test');
    assert.is((await echo(tls!, Buffer.from('evidence'))).toString(), 'evidence');
    tls!.end();
    await eventually(() => h.audit().some((r) => r.decision === 'allowed'));
    for (let batch = 0; batch < 30; batch++) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => request(h.proxy.address.port, `CONNECT x${batch}-${i}.example.test:443 HTTP/1.1\r\n\r\n`)));
    }
    const all = () => [...readAudit(`${h.config.auditLog}.1`), ...readAudit(h.config.auditLog)];
    await eventually(() => all().some((r) => r.event === 'summary'), 3000);
    await new Promise((r) => setTimeout(r, 700)); // the last window's summary
    assert.ok(existsSync(`${h.config.auditLog}.1`), 'the flood rotated the log');
    const summaries = all().filter((r) => r.event === 'summary');
    const summarised = summaries.reduce((n, r) => n + (r.count ?? 0), 0);
    assert.ok(summarised >= 3000 - 20 * 40, `${summarised} refusals summarised`);
    const records = all();
    assert.ok(records.some((r) => r.decision === 'allowed' && r.event === undefined && r.name === 'api.example.test'), 'the allowed tunnel\'s record survived');
    assert.ok(records.some((r) => r.event === 'open'), 'and its open record');
    assert.ok(records.filter((r) => r.decision === 'refused' && !r.event).length <= 20 * 12, 'refusals one by one only up to the rate');
    assert.match(summaries[0]!.reason, /^\d+ more refusals not logged one by one: name not listed ×\d+; names: .*x\d+-\d+\.example\.test:443 ×1/);
    assert.ok(summaries.every((r) => r.client === '127.0.0.1' && r.until !== undefined));
  } finally {
    await h.close();
    await up.close();
  }
});

test('proxy: clients outside allowClients are summarised too: the first logged, the rest counted', async () => {
  const h = await startHarness({ hosts: {}, upstreamPort: 1, config: { allowClients: ['192.168.64.2/32'] }, deps: { refusals: { windowMs: 200, perWindow: 20 } } });
  try {
    await Promise.all(Array.from({ length: 300 }, () => new Promise<void>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: h.proxy.address.port });
      s.on('error', () => resolve());
      s.on('close', () => resolve());
    })));
    const records = await eventually(() => h.audit().some((r) => r.event === 'summary') && h.audit(), 2000);
    assert.is(records.filter((r) => r.reason === 'client not allowed').length, 1);
    const summary = records.find((r) => r.event === 'summary')!;
    assert.is(summary.count, 299);
    assert.match(summary.reason, /299 more refusals not logged one by one: client not allowed ×299/);
  } finally {
    await h.close();
  }
});

test('an open tunnel is on record before it closes (a proxy killed with -9 leaves that line)', async () => {
  const up = await startTlsUpstream(['api.example.test']);
  const h = await startHarness({ hosts: { 'api.example.test': [UPSTREAM_ADDRESS] }, upstreamPort: up.port });
  try {
    const { tls } = await tlsThrough(h.proxy.address.port, 'api.example.test:443', 'api.example.test');
    await echo(tls!, Buffer.from('x'));
    // The line is written synchronously when relaying starts: it is on disk while the tunnel runs.
    const [open] = readAudit(h.config.auditLog);
    assert.is(open!.event, 'open');
    assert.is(open!.decision, 'allowed');
    assert.is(open!.name, 'api.example.test');
    assert.is(open!.address, UPSTREAM_ADDRESS);
    tls!.destroy();
  } finally {
    await h.close();
    await up.close();
  }
});

test.run();
