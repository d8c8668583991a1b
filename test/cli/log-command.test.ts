// `nanopolicy log`: the audit log for a person (allowed with traffic, refused with the reason and a
// mismatched TLS name), --refused, --json exactly as written, the rotated part first, a torn last
// line waited for, and --follow printing decisions appended after it started.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliArgs } from '../helpers/cli-process.ts';
import { runCli } from '../helpers/run-cli.ts';
import type { AuditRecord } from '../../src/formats/proxy-config.ts';

const ROOT = join(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'np-log-'));
const stateDir = join(dir, 'state');
mkdirSync(stateDir);
const policy = join(dir, 'p.policy');
writeFileSync(policy, 'vm log-vm\negress claude api.example.test\negress chat chat.example.test\n');

const rec = (over: Partial<AuditRecord>): AuditRecord => ({
  time: '2026-11-27T16:50:01.123Z', client: '192.168.64.2', name: 'api.example.test', port: 443, decision: 'allowed', reason: 'listed',
  rule: 'claude', sni: 'api.example.test', address: '203.0.113.20', bytesUp: 2048, bytesDown: 5_500_000, durationMs: 12_300, ...over,
});
const OLD = rec({ time: '2026-11-27T16:40:00.000Z', name: 'chat.example.test', rule: 'chat', sni: 'chat.example.test' });
const ALLOWED = rec({});
const UNLISTED = rec({ name: 'evil.example.test', decision: 'refused', reason: 'not listed', rule: undefined, address: undefined, sni: undefined, bytesUp: 0, bytesDown: 0, durationMs: 1 });
const FRONTED = rec({ decision: 'refused', reason: 'TLS server name differs from the CONNECT name', sni: 'other.example.test', bytesUp: 0, bytesDown: 0 });
const line = (r: AuditRecord) => `${JSON.stringify(r)}\n`;
writeFileSync(join(stateDir, 'proxy-audit.jsonl.1'), line(OLD));
writeFileSync(join(stateDir, 'proxy-audit.jsonl'), line(ALLOWED) + line(UNLISTED) + line(FRONTED) + '{"time":"2026-11-27T16:5');

const log = (...args: string[]) => runCli(['log', policy, '--state-dir', stateDir, '--home', dir, ...args], { env: { NO_COLOR: '1' } });

test('prints every decision, oldest (rotated) first, with the reason and the summary', async () => {
  const r = await log();
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.is(lines.length, 4, 'the torn last line is not printed');
  assert.match(lines[0]!, /2026-11-27 16:40:00 UTC +allowed +chat +chat\.example\.test:443/);
  assert.match(lines[1]!, /allowed +claude +api\.example\.test:443 +→ 203\.0\.113\.20 +↑2\.0 KiB ↓5\.2 MiB in 12\.3 s/);
  assert.match(lines[2]!, /REFUSED +evil\.example\.test:443 +not listed/);
  assert.match(lines[3]!, /TLS server name differs .*\(TLS name "other\.example\.test"\)/);
  assert.match(r.stderr, /4 attempts: 2 allowed \(chat, claude\), 2 refused \(evil\.example\.test:443, api\.example\.test:443\)/);
});

test('--refused shows only refusals; --json prints the records exactly as written', async () => {
  const refused = await log('--refused');
  assert.is(refused.stdout.trim().split('\n').length, 2);
  assert.not.match(refused.stdout, /allowed/);
  const json = await log('--json');
  assert.equal(json.stdout.trim().split("\n").map((l) => JSON.parse(l)), [OLD, ALLOWED, UNLISTED, FRONTED].map((r) => JSON.parse(JSON.stringify(r))));
});

test('no log yet is not an error, and says where it looked', async () => {
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  const r = await runCli(['log', policy, '--state-dir', empty, '--home', dir], { env: { NO_COLOR: '1' } });
  assert.is(r.code, 0);
  assert.match(r.stderr, /Nothing logged yet in .*proxy-audit\.jsonl/);
});

test('a policy that does not parse exits 1 with its diagnostics; one that fails a check still shows the log, with its errors', async () => {
  const broken = join(dir, 'broken.policy');
  writeFileSync(broken, 'vm x\negress web api.example.test inject\n');
  const unparsed = await runCli(['log', broken, '--state-dir', stateDir, '--home', dir], { env: { NO_COLOR: '1' } });
  assert.is(unparsed.code, 1);
  assert.match(unparsed.stderr, /broken\.policy:2:/);
  assert.is(unparsed.stdout, '');
  // A check error (a wildcard over a whole TLD; in life, a secret file left readable by others —
  // the very thing the log may be reporting): the VM's name still finds the log.
  const bad = join(dir, 'bad.policy');
  writeFileSync(bad, 'vm x\negress web *.com\n');
  const r = await runCli(['log', bad, '--state-dir', stateDir, '--home', dir], { env: { NO_COLOR: '1' } });
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /NP260/);
  assert.match(r.stderr, /Reading the log of "x" anyway/);
  assert.match(r.stdout, /REFUSED +evil\.example\.test:443/);
});

test('open records and refusal summaries read as what they are, and count right in the summary line', async () => {
  const own = join(dir, 'events');
  mkdirSync(own);
  const OPEN = rec({ reason: 'tunnel opened', event: 'open', bytesUp: 0, bytesDown: 0, durationMs: 0, door: 'transparent' });
  const CRASHED = rec({ time: '2026-11-27T16:51:00.000Z', name: 'chat.example.test', rule: 'chat', reason: 'tunnel opened', event: 'open', bytesUp: 0, bytesDown: 0 });
  const SUMMARY = rec({ name: '', port: 0, decision: 'refused', reason: '480 more refusals not logged one by one: name not listed ×480', event: 'summary', count: 480,
    until: '2026-11-27T16:50:11.123Z', rule: undefined, address: undefined, sni: undefined, bytesUp: 0, bytesDown: 0 });
  writeFileSync(join(own, 'proxy-audit.jsonl'), line(OPEN) + line({ ...ALLOWED, door: 'transparent' }) + line(CRASHED) + line(UNLISTED) + line(SUMMARY));
  const r = await runCli(['log', policy, '--state-dir', own, '--home', dir], { env: { NO_COLOR: '1' } });
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0]!, /opened +claude +api\.example\.test:443 +→ 203\.0\.113\.20 +\(transparent\)/);
  assert.match(lines[4]!, /REFUSED +×480 from 192\.168\.64\.2 +480 more refusals/);
  // The tunnel that closed counts once; the one with only its open record (a crash) counts too.
  assert.match(r.stderr, /483 attempts: 2 allowed \(claude, chat\), 481 refused \(evil\.example\.test:443, and 480 summarised\)/);
  const refused = await runCli(['log', policy, '--state-dir', own, '--home', dir, '--refused'], { env: { NO_COLOR: '1' } });
  assert.is(refused.stdout.trim().split('\n').length, 2, 'the refusal and the summary');
});

test('--follow prints decisions appended after it started, and stops on SIGTERM', async () => {
  const child = spawn(process.execPath, [...(await cliArgs()), 'log', policy, '--state-dir', stateDir, '--home', dir, '--follow', '--json', '--interval', '50'], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const waitFor = async (n: number) => {
    for (let i = 0; i < 200 && out.trim().split('\n').filter(Boolean).length < n; i++) await new Promise((r) => setTimeout(r, 25));
  };
  await waitFor(4);
  // Completes the torn line, then one more decision.
  appendFileSync(join(stateDir, 'proxy-audit.jsonl'), '');
  const later = rec({ time: '2026-11-27T17:00:00.000Z', name: 'late.example.test', decision: 'refused', reason: 'not listed' });
  writeFileSync(join(stateDir, 'proxy-audit.jsonl'), line(ALLOWED) + line(UNLISTED) + line(FRONTED) + line(later));
  await waitFor(5);
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  child.kill('SIGTERM');
  assert.is(await exited, 0);
  const names = out.trim().split('\n').map((l) => JSON.parse(l).name);
  assert.equal(names, ['chat.example.test', 'api.example.test', 'evil.example.test', 'api.example.test', 'late.example.test']);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
