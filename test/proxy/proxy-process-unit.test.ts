// The proxy as enforce runs it: `node dist/proxy.js --config FILE`, copied alone into an empty
// directory (it must need nothing but Node), on loopback.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from './proxy-harness.ts';

const bundle = join(import.meta.dirname, '../../dist/proxy.js');

// A port free right now on 127.0.0.1.
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

interface Run { child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | null> }

function run(dir: string, configPath: string): Run {
  const child = spawn(process.execPath, [join(dir, 'proxy.js'), '--config', configPath], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function setup(): Promise<{ dir: string; config: (o: object) => string; log: string }> {
  if (!existsSync(bundle)) throw new Error('dist/proxy.js is missing: run `npm run build` (npm test does)');
  const dir = mkdtempSync(join(tmpdir(), 'np-proxy-proc-'));
  copyFileSync(bundle, join(dir, 'proxy.js'));
  const log = join(dir, 'audit.jsonl');
  return {
    dir, log,
    config: (o) => {
      const path = join(dir, 'proxy.json');
      writeFileSync(path, JSON.stringify({ format: 1, vm: 't', listen: { host: '127.0.0.1', port: 13128 }, allowClients: ['127.0.0.1/32'],
        rules: [{ name: 'api', host: 'api.example.test', port: 443 }], auditLog: log, ...o }));
      return path;
    },
  };
}

async function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('process: prints "listening HOST:PORT", refuses an unlisted name, stops cleanly on SIGTERM', async () => {
  const { dir, config, log } = await setup();
  const port = await freePort();
  const r = run(dir, config({ listen: { host: '127.0.0.1', port } }));
  try {
    await waitFor(() => r.stdout().includes('\n'));
    assert.is(r.stdout(), `listening 127.0.0.1:${port}\n`);
    const answer = await request(port, 'CONNECT evil.example.test:443 HTTP/1.1\r\n\r\n');
    assert.is(answer.status, 403);
    // An open, half-read request is closed by SIGTERM and still gets its record.
    const pending = connect({ host: '127.0.0.1', port });
    pending.on('error', () => {});
    const pendingClosed = new Promise((res) => pending.once('close', res));
    pending.write('CONNECT api.example.test:443 HTTP/1.1\r\n');
    await new Promise((res) => setTimeout(res, 100));
    r.child.kill('SIGTERM');
    assert.is(await r.exited, 0);
    await pendingClosed;
    const records = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(records.map((x) => x.reason), ['name not listed', 'proxy stopped']);
  } finally {
    r.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('process: a bad config, a missing file, an audit log it cannot open or a taken port exits 1 with one line', async () => {
  const { dir, config } = await setup();
  let busy: Server | undefined;
  try {
    const bad = run(dir, config({ rules: [{ name: 'x', host: '127.0.0.1', port: 443 }] }));
    assert.is(await bad.exited, 1);
    assert.match(bad.stderr(), /^nanopolicy-proxy: proxy config: "rules\[0\]\.host" "127\.0\.0\.1" is not a valid name: it is an IP address, not a name\n$/);
    assert.is(bad.stdout(), '');
    const missing = run(dir, join(dir, 'nope.json'));
    assert.is(await missing.exited, 1);
    assert.match(missing.stderr(), /^nanopolicy-proxy: cannot read proxy config .*nope\.json: ENOENT\n$/);
    const noLog = run(dir, config({ auditLog: join(dir, 'missing-dir', 'audit.jsonl') }));
    assert.is(await noLog.exited, 1);
    assert.match(noLog.stderr(), /^nanopolicy-proxy: cannot open the audit log .*missing-dir\/audit\.jsonl: ENOENT\n$/);
    busy = createServer();
    await new Promise<void>((res) => busy!.listen(0, '127.0.0.1', res));
    const port = (busy.address() as { port: number }).port;
    const taken = run(dir, config({ listen: { host: '127.0.0.1', port } }));
    assert.is(await taken.exited, 1);
    assert.match(taken.stderr(), new RegExp(`^nanopolicy-proxy: cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE\\n$`));
  } finally {
    busy?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
