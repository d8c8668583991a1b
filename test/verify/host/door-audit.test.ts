// verify's audit rows for the transparent door (egress-proxy-host.ts): a CONNECT record never
// stands in for a door record (door "transparent"), nor the reverse, so a VM that claims "TLS ok
// through the door" for a tunnel the door never opened fails on the host's evidence.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePolicy } from '../../../src/compiler/compile.ts';
import { checkAudit } from '../../../src/verify/host/egress-proxy-host.ts';
import type { AuditRecord } from '../../../src/formats/proxy-config.ts';

const policy = compilePolicy({ file: 't.policy', source: 'vm door-vm\negress claude api.example.test\n', home: '/Users/o', cwd: '/Users/o' }).policy!;
const dir = mkdtempSync(join(tmpdir(), 'np-door-audit-'));
const path = join(dir, 'proxy-audit.jsonl');
const NONCE = 'abc123abc123';
const rec = (over: Partial<AuditRecord>): string => `${JSON.stringify({ time: '2026-12-07T18:00:00.000Z', client: '192.168.64.2', name: 'api.example.test', port: 443, decision: 'allowed', reason: 'tunnel closed', rule: 'claude', bytesUp: 1, bytesDown: 1, durationMs: 1, ...over })}\n`;
const rows = async () => Object.fromEntries((await checkAudit(policy, { path, offset: 0 }, NONCE, 0)).map((r) => [r.probe, r.ok]));

test('CONNECT records alone: the proxy rows pass, the door rows fail', async () => {
  writeFileSync(path, rec({}) + rec({ name: `np-${NONCE}.unlisted.invalid`, decision: 'refused', reason: 'name not listed' })
    + rec({ sni: `np-${NONCE}.sni.invalid`, decision: 'refused', reason: 'SNI differs' }));
  const r = await rows();
  assert.is(r['audit log: api.example.test:443 allowed'], true);
  assert.is(r['audit log: api.example.test:443 allowed through the transparent door'], false);
  assert.is(r[`audit log: TLS name np-${NONCE}.door.invalid refused by the transparent door`], false);
});

test('with the door\'s own records every row passes; a door record does not count twice for the proxy', async () => {
  appendFileSync(path, rec({ door: 'transparent', sni: 'api.example.test' }) + rec({ door: 'transparent', name: `np-${NONCE}.door.invalid`, sni: `np-${NONCE}.door.invalid`, decision: 'refused', reason: 'name not listed' }));
  const r = await rows();
  assert.ok(Object.values(r).every(Boolean), JSON.stringify(r));
  assert.is(r['audit log: api.example.test:443 allowed'], true, 'still logged once through the proxy');
});

test.run();
