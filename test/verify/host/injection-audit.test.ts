// verify's host check that the proxy logged the VM's injection probes (src/verify/host/injection-audit.ts):
// the VM's word that the upstream said 200 counts only if the proxy's audit log, written on the
// host, says the same for this run. Attacks: a VM claiming a request it never made, a request the
// upstream refused, an older run's success before the mark, a record for another path or name.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkInjectionAudit, injectionProbePlan, plannedConnects, type InjectionProbePlan } from '../../../src/verify/host/injection-audit.ts';
import type { VerifyManifest } from '../../../src/formats/verify-manifest.ts';

const dir = mkdtempSync(join(tmpdir(), 'np-inject-audit-'));
const inject: NonNullable<VerifyManifest['inject']> = {
  requests: [
    { rule: 'claude', host: 'api.anthropic.com', port: 443, method: 'GET', path: '/v1/models', headers: [] },
    { rule: 'other', host: 'api.other.test', port: 443, headers: [] },
  ],
  unprobed: [{ rule: 'wild', host: '*.wild.test', why: 'a wildcard' }],
  websockets: [{ rule: 'gateway', host: 'gateway.discord.gg', port: 443, path: '/?v=10&encoding=json', secret: 'discord' }],
  plain: [{ rule: 'npm', host: 'registry.npmjs.org', port: 443 }],
  placeholders: ['nanopolicy-placeholder:anthropic'],
};
const record = (r: object) => `${JSON.stringify({ time: new Date().toISOString(), ...r })}\n`;
const injected = (name: string, path: string, status: number) => record({ kind: 'injected-request', name, rule: 'r', method: 'GET', path, status, bytesUp: 1, bytesDown: 1, durationMs: 1, secrets: ['s'] });

function logWith(lines: string[], before: string[] = []): { path: string; offset: number } {
  const path = join(dir, `audit-${Math.random().toString(36).slice(2)}.jsonl`);
  writeFileSync(path, before.join(''));
  const offset = statSync(path).size;
  appendFileSync(path, lines.join(''));
  return { path, offset };
}

test('the plan: a request where a method and path are known or given, a WebSocket per gateway, TLS-only names and the echo as CONNECTs', () => {
  const plan = injectionProbePlan({ inject, haveCa: true, skipped: false, injectRequests: { 'api.other.test': 'POST/v1/ping' }, injectEcho: 'echo.test:443/echo' });
  assert.equal(plan.requests, [
    { host: 'api.anthropic.com', port: 443, method: 'GET', path: '/v1/models' },
    { host: 'api.other.test', port: 443, method: 'POST', path: '/v1/ping' },
  ]);
  assert.equal(plan.websockets, [{ host: 'gateway.discord.gg', port: 443, path: '/?v=10&encoding=json' }]);
  assert.equal(plannedConnects(plan), { 'api.anthropic.com:443': 1, 'api.other.test:443': 1, 'gateway.discord.gg:443': 1, 'registry.npmjs.org:443': 1, 'echo.test:443': 1 });
  // Without the CA the probe sends nothing through the layer (its rows are NOT RUN); skipped, nothing at all.
  assert.equal(injectionProbePlan({ inject, haveCa: false, skipped: false }), { requests: [], websockets: [], connectsOnly: [] });
  assert.equal(injectionProbePlan({ inject, haveCa: true, skipped: true, injectEcho: 'echo.test:443/echo' }), { requests: [], websockets: [], connectsOnly: [] });
});

const plan: InjectionProbePlan = { requests: [{ host: 'api.anthropic.com', port: 443, method: 'GET', path: '/v1/models' }], websockets: [{ host: 'gateway.discord.gg', port: 443, path: '/?v=10&encoding=json' }], connectsOnly: [] };

test('a sound run: the request logged with 200, the WebSocket logged as opened', async () => {
  const mark = logWith([injected('api.anthropic.com', '/v1/models', 200), record({ kind: 'websocket-open', name: 'gateway.discord.gg', rule: 'gateway', path: '/', secrets: ['discord'] })]);
  const rows = await checkInjectionAudit(plan, mark, 0);
  assert.equal(rows.map((r) => [r.probe, r.measured, r.ok]), [
    ['audit log: GET api.anthropic.com/v1/models injected', 'logged, 200', true],
    ['audit log: WebSocket to gateway.discord.gg opened through the injecting layer', 'logged', true],
  ]);
});

test('attacks: nothing logged (the VM claimed it), the upstream refused (401), only an older run succeeded, another path or name succeeded', async () => {
  const none = await checkInjectionAudit(plan, logWith([]), 0);
  assert.equal(none.map((r) => [r.measured, r.ok]), [['NOT LOGGED', false], ['NOT LOGGED', false]]);
  assert.match(none[0]!.detail!, 'not backed by the host');
  const refused = await checkInjectionAudit(plan, logWith([injected('api.anthropic.com', '/v1/models', 401)]), 0);
  assert.equal([refused[0]!.measured, refused[0]!.ok], ['logged, 401', false]);
  assert.match(refused[0]!.detail!, 'did not accept the credential');
  const older = await checkInjectionAudit(plan, logWith([], [injected('api.anthropic.com', '/v1/models', 200), record({ kind: 'websocket-open', name: 'gateway.discord.gg', path: '/' })]), 0);
  assert.equal(older.map((r) => r.ok), [false, false]);
  const elsewhere = await checkInjectionAudit(plan, logWith([injected('api.anthropic.com', '/v1/other', 200), injected('api.evil.test', '/v1/models', 200), record({ kind: 'websocket-open', name: 'gateway.evil.test', path: '/' })]), 0);
  assert.equal(elsewhere.map((r) => r.measured), ['NOT LOGGED', 'NOT LOGGED']);
});

test('a record that arrives while verify waits still counts; a half-written last line waits for its end', async () => {
  const mark = logWith([]);
  setTimeout(() => appendFileSync(mark.path, injected('api.anthropic.com', '/v1/models', 204).slice(0, 30)), 50);
  setTimeout(() => appendFileSync(mark.path, `${injected('api.anthropic.com', '/v1/models', 204).slice(30)}${record({ kind: 'websocket-open', name: 'gateway.discord.gg', path: '/' })}`), 250);
  const rows = await checkInjectionAudit(plan, mark, 2000);
  assert.equal(rows.map((r) => [r.measured, r.ok]), [['logged, 204', true], ['logged', true]]);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
