// `nanopolicy log` shows the injecting layer's records as what they are (not as refusals with
// "undefined" in them), secrets by name.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { colors } from '../../src/colors.ts';
import { formatRecord } from '../../src/cli/log-command.ts';
import type { AuditRecord } from '../../src/formats/proxy-config.ts';

const c = colors(false);
const line = (r: object) => formatRecord(r as AuditRecord, c);

test('an injected request, a WebSocket open and close, and a refusal inside an injected tunnel', () => {
  assert.is(line({ time: '2026-12-07T18:00:00.000Z', kind: 'injected-request', name: 'api.anthropic.com', rule: 'claude', method: 'POST', path: '/v1/messages', status: 200, bytesUp: 512, bytesDown: 2048, durationMs: 830, secrets: ['anthropic'] }),
    '2026-12-07 18:00:00 UTC  injected claude     POST api.anthropic.com/v1/messages → 200 + anthropic  ↑512 B ↓2048 B in 830 ms');
  assert.match(line({ time: '2026-12-07T18:00:01Z', kind: 'websocket-open', name: 'gateway.discord.gg', rule: 'gateway', path: '/', secrets: ['discord'] }), /ws open\s+gateway\s+gateway\.discord\.gg\/\s+\+ discord/);
  assert.match(line({ time: '2026-12-07T18:00:02Z', kind: 'websocket-close', name: 'gateway.discord.gg', rule: 'gateway', tokensInjected: 1, bytesUp: 10, bytesDown: 20, durationMs: 5 }), /ws close .*1 token\(s\) injected/);
  assert.match(line({ time: '2026-12-07T18:00:03Z', kind: 'inject-refused', name: 'api.anthropic.com', rule: 'claude', code: 'cl-and-te', reason: 'the request has both Content-Length and Transfer-Encoding' }), /REFUSED\s+claude\s+api\.anthropic\.com\s+the request has both .* \(cl-and-te\)$/);
  assert.not.match(line({ time: 'x', kind: 'inject-refused', name: 'n', rule: 'r', code: 'c', reason: 'why' }), /undefined/);
});

test.run();
