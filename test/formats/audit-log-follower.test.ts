// `log --follow` across rotation: a record written just before the proxy rotates the log is still
// printed, once, in order, and the new log is then read from its start.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLogFollower } from '../../src/formats/audit-log-follower.ts';
import { openAuditLog } from '../../src/proxy/audit-log.ts';
import type { AuditRecord } from '../../src/proxy/config.ts';

const rec = (n: number, decision: AuditRecord['decision'] = 'refused'): AuditRecord => ({ time: new Date(n).toISOString(), client: '192.168.64.2',
  name: `n${n}.example.test`, port: 443, decision, reason: 'r', bytesUp: 0, bytesDown: 0, durationMs: 0 });

test('a line written just before a rename-rotation is read from the old file, then the new one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-follow-'));
  const path = join(dir, 'audit.jsonl');
  writeFileSync(path, `${JSON.stringify(rec(0))}\n`);
  const follower = new AuditLogFollower(path, Buffer.byteLength(`${JSON.stringify(rec(0))}\n`));
  appendFileSync(path, `${JSON.stringify(rec(1))}\n`);
  assert.equal(follower.poll().map((r) => r.name), ['n1.example.test']);
  appendFileSync(path, `${JSON.stringify(rec(2))}\n${JSON.stringify(rec(3)).slice(0, 10)}`);
  renameSync(path, `${path}.1`);
  writeFileSync(path, `${JSON.stringify(rec(4))}\n`);
  assert.equal(follower.poll().map((r) => r.name), ['n2.example.test', 'n4.example.test'], 'the torn line of the old file is not invented');
  follower.close();
  rmSync(dir, { recursive: true });
});

test('following the proxy\'s own log through many rotations (carry-over ones included) sees every record once, in order', () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-follow-'));
  const path = join(dir, 'audit.jsonl');
  const log = openAuditLog(path, 4096);
  const follower = new AuditLogFollower(path, 0);
  const seen: string[] = [];
  for (let i = 0; i < 300; i++) {
    log.write(rec(i, i % 50 === 0 ? 'allowed' : 'refused'));
    // Poll at odd moments: sometimes after each line, sometimes after several rotations.
    if (i % 7 === 0 || i % 97 === 0) seen.push(...follower.poll().map((r) => r.name));
  }
  seen.push(...follower.poll().map((r) => r.name));
  log.close();
  follower.close();
  assert.equal(seen, Array.from({ length: 300 }, (_, i) => `n${i}.example.test`));
  rmSync(dir, { recursive: true });
});

test.run();
