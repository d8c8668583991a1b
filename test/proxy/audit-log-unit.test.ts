// The audit log: JSON lines, appended across restarts, owner-only, rotated by size.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAuditLog } from '../../src/proxy/audit-log.ts';
import type { AuditRecord } from '../../src/formats/proxy-config.ts';

const record = (n: number): AuditRecord => ({ time: new Date(n).toISOString(), client: '192.168.64.2', name: `n${n}.example.test`, port: 443,
  decision: 'refused', reason: 'name not listed', bytesUp: 0, bytesDown: 0, durationMs: 1 });
const lines = (path: string): AuditRecord[] => readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

test('audit log: appends across reopen, makes an existing 0644 log 0600', () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-audit-'));
  const path = join(dir, 'audit.jsonl');
  writeFileSync(path, `${JSON.stringify(record(0))}\n`);
  chmodSync(path, 0o644);
  const log = openAuditLog(path, 1 << 20);
  log.write(record(1));
  log.close();
  const again = openAuditLog(path, 1 << 20);
  again.write(record(2));
  again.close();
  assert.equal(lines(path).map((r) => r.name), ['n0.example.test', 'n1.example.test', 'n2.example.test']);
  assert.is(statSync(path).mode & 0o777, 0o600);
  rmSync(dir, { recursive: true });
});

test('audit log: past the size it moves to log.1 (replacing an older one) and starts afresh, 0600', () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-audit-'));
  const path = join(dir, 'audit.jsonl');
  const log = openAuditLog(path, 4096);
  const size = Buffer.byteLength(`${JSON.stringify(record(1))}\n`);
  const perFile = Math.floor(4096 / size);
  for (let i = 0; i < perFile * 2 + 3; i++) log.write(record(i));
  log.close();
  assert.ok(statSync(path).size <= 4096);
  assert.ok(statSync(`${path}.1`).size <= 4096);
  assert.is(lines(path).length, 3);
  assert.is(lines(`${path}.1`).length, perFile);
  assert.is(lines(path).at(-1)!.name, `n${perFile * 2 + 2}.example.test`);
  assert.is(statSync(path).mode & 0o777, 0o600);
  assert.is(statSync(`${path}.1`).mode & 0o777, 0o600);
  rmSync(dir, { recursive: true });
});

test('audit log: a write after close throws instead of writing to a reused descriptor', () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-audit-'));
  const log = openAuditLog(join(dir, 'audit.jsonl'), 4096);
  log.close();
  assert.throws(() => log.write(record(1)), /closed/);
  rmSync(dir, { recursive: true });
});

test.run();
