// proxy.log rotation (src/enforce/proxy-step.ts): a proxy restarted by the supervisor all year
// appends to proxy.log; each start that finds it past 1 MiB moves it to proxy.log.1, replacing the
// one before, so the state directory holds two generations at most. A small log is left alone.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROXY_LOG_ROTATE_BYTES, rotateProxyLog } from '../../src/enforce/proxy-step.ts';

const dir = mkdtempSync(join(tmpdir(), 'np-proxy-log-'));
const log = join(dir, 'proxy.log');

test('a small log stays; a big one moves to proxy.log.1, replacing the older one; no log is no error', () => {
  rotateProxyLog(log);
  assert.not.ok(existsSync(log));
  writeFileSync(log, 'small\n');
  rotateProxyLog(log);
  assert.is(readFileSync(log, 'utf8'), 'small\n');
  writeFileSync(`${log}.1`, 'the generation before\n');
  writeFileSync(log, 'x'.repeat(PROXY_LOG_ROTATE_BYTES + 1));
  rotateProxyLog(log);
  assert.not.ok(existsSync(log));
  assert.is(statSync(`${log}.1`).size, PROXY_LOG_ROTATE_BYTES + 1);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
