// The gateway sweep split over worker threads finds exactly what one thread finds: every port
// counted once, open ports named, bridge ports skipped, the socket cap shared. Loopback only.

import net from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { classifyName, PORT_CODE, SWEEP_CHUNK, TcpScanner, sweepInWorker, sweepOnThisThread } from '../../src/verify/inside/tcp-scanner.ts';
import { mustBeBlocked } from '../../src/verify/inside/must-be-blocked.ts';
import { gatewaySweep } from '../../src/verify/inside/gateway-sweep.ts';
import { listen } from '../helpers/listen.ts';

const t = suite('gateway sweep: worker threads');

t('three worker threads report the same rows as this thread alone, with every port counted once', async () => {
  // A narrow range round one listener: loopback is shared with the machine's other listeners.
  const server = net.createServer((s) => s.destroy());
  const open = await listen(server);
  const from = Math.max(1, open - 40);
  const to = Math.min(65535, open + 40);
  const bridge = open === to ? open - 1 : open + 1;
  const manifest = { gateway: '127.0.0.1', gatewaySweep: { from: from as 1, to: to as 65535, except: [bridge] } };
  try {
    const runs = [];
    for (const workers of [0, 3]) {
      const scanner = new TcpScanner(24, 5000); // loopback answers at once; a long timeout only rides out load
      const seen: number[] = [];
      const r = await gatewaySweep(manifest, scanner, (done) => seen.push(done), { workers });
      scanner.close();
      const total = to - from; // the range less the one skipped bridge port
      assert.is(seen.at(-1), total, `progress reaches the total with ${workers} worker(s)`);
      assert.is(scanner.stats.attempts, total, `each port tried once with ${workers} worker(s)`);
      assert.ok(scanner.stats.maxOpen <= 24, `cap shared: ${scanner.stats.maxOpen}`);
      runs.push(r.results.map((x) => ({ ...x, ms: 0 })));
    }
    assert.equal(runs[1], runs[0]);
    const rows = runs[0]!;
    assert.is(rows[0]!.ok, false);
    assert.ok(rows.some((x) => x.probe === `127.0.0.1:${open}`), `open port ${open} named`);
    assert.not.ok(rows.some((x) => x.probe === `127.0.0.1:${bridge}`), 'the bridge port is skipped');
  } finally {
    server.close();
  }
});

t('a worker sweeps its slice alone: closed, open, skipped', async () => {
  const server = net.createServer((s) => s.destroy());
  const port = await listen(server);
  try {
    const r = await sweepInWorker({ host: '127.0.0.1', from: port - 5, to: port + 5, skip: [port + 1], cap: 4, timeoutMs: 5000 }, () => undefined);
    assert.equal(r.openPorts, [port]);
    assert.is(r.counts.open + r.counts.closed + r.counts.filtered, 10);
    assert.is(r.counts.error, 0);
    assert.is(r.attempts, 10);
    assert.ok(r.maxOpen <= 4);
  } finally {
    server.close();
  }
});

t('workers that share a cursor claim chunks until none are left: each port tried once, every outcome written', async () => {
  const server = net.createServer((s) => s.destroy());
  const open = await listen(server);
  // Three chunks and a bit, round one listener (loopback answers at once).
  const from = Math.max(1, Math.min(open - SWEEP_CHUNK, 65535 - 3 * SWEEP_CHUNK - 10));
  const to = from + 3 * SWEEP_CHUNK + 9;
  const skip = [from + 1, to - 1].filter((p) => p !== open);
  const cursor = new Int32Array(new SharedArrayBuffer(4));
  cursor[0] = from;
  const states = new Uint8Array(new SharedArrayBuffer(65536));
  try {
    const input = { host: '127.0.0.1', from, to, skip, cap: 16, timeoutMs: 5000, cursor, states };
    const [a, b] = await Promise.all([sweepInWorker(input, () => undefined), sweepInWorker(input, () => undefined)]);
    const total = to - from + 1 - skip.length;
    assert.is(a.attempts + b.attempts, total, 'between them, each port once');
    const tried = [...states.subarray(from, to + 1)].filter((c) => c !== 0).length;
    assert.is(tried, total, 'an outcome for every port swept');
    for (const p of skip) assert.is(states[p], 0, `skipped port ${p} untouched`);
    assert.is(states[open], PORT_CODE.open);
    // Loopback is shared with the machine's other listeners (other test processes): the open ports
    // the workers name are exactly the ones the array marks open, ours among them.
    const marked = [];
    for (let p = from; p <= to; p++) if (states[p] === PORT_CODE.open) marked.push(p);
    assert.equal([...a.openPorts, ...b.openPorts].sort((x, y) => x - y), marked);
    assert.ok(marked.includes(open));
    assert.ok(cursor[0]! > to, 'the cursor ran past the range');
  } finally {
    server.close();
  }
});

t('this thread and a worker share one cursor: each port tried once between them', async () => {
  const server = net.createServer((s) => s.destroy());
  const open = await listen(server);
  const from = Math.max(1, Math.min(open - SWEEP_CHUNK, 65535 - 4 * SWEEP_CHUNK));
  const to = from + 4 * SWEEP_CHUNK - 1;
  const shared = new Int32Array(new SharedArrayBuffer(4));
  shared[0] = from;
  const states = new Uint8Array(new SharedArrayBuffer(65536));
  const scanner = new TcpScanner(32, 5000);
  try {
    const input = { host: '127.0.0.1', from, to, skip: [], cap: 8, timeoutMs: 5000, cursor: shared, states };
    const [here, there] = await Promise.all([sweepOnThisThread(input, () => undefined, scanner), sweepInWorker(input, () => undefined, scanner)]);
    assert.is(here.attempts + there.attempts, to - from + 1, 'between them, each port once');
    assert.ok(here.attempts > 0, 'this thread swept a part');
    assert.ok(here.maxOpen <= 8, `this thread kept to its share: ${here.maxOpen}`);
    assert.is([...states.subarray(from, to + 1)].filter((c) => c === 0).length, 0, 'an outcome for every port');
    assert.is(states[open], PORT_CODE.open);
    assert.ok([...here.openPorts, ...there.openPorts].includes(open));
  } finally {
    scanner.close();
    server.close();
  }
});

t("a scanner that closes stops this thread's share: it rejects, and starts nothing more", async () => {
  const scanner = new TcpScanner(4, 5000);
  const states = new Uint8Array(new SharedArrayBuffer(65536));
  const cursor = new Int32Array(new SharedArrayBuffer(4));
  cursor[0] = 1;
  // Loopback, one socket at a time: far from done when the scanner closes on the next turn.
  const sweep = sweepOnThisThread({ host: '127.0.0.1', from: 1, to: 65535, skip: [], cap: 1, timeoutMs: 5000, cursor, states }, () => undefined, scanner);
  await new Promise((r) => setImmediate(r));
  scanner.close();
  const why = await sweep.then(() => 'resolved', (e: Error) => e.message);
  assert.match(why, /stopped/);
  const tried = states.filter((c) => c !== 0).length;
  await new Promise((r) => setTimeout(r, 50));
  assert.is(states.filter((c) => c !== 0).length, tried, 'no port finished after the close');
  assert.ok(tried < 65535, `stopped early (${tried} ports)`);
});

t('without tcp_wrap (the net engine) this thread sweeps every port through the scanner', async () => {
  const server = net.createServer((s) => s.destroy());
  const open = await listen(server);
  const from = Math.max(1, open - 20);
  const to = Math.min(65535, open + 20);
  const manifest = { gateway: '127.0.0.1', gatewaySweep: { from: from as 1, to: to as 65535, except: [] } };
  try {
    const rows = [];
    for (const engine of ['auto', 'net'] as const) {
      const scanner = new TcpScanner(8, 5000, engine);
      const seen: number[] = [];
      const r = await gatewaySweep(manifest, scanner, (done) => seen.push(done), { workers: 0 });
      scanner.close();
      assert.is(scanner.stats.attempts, to - from + 1, `${engine}: each port tried once`);
      assert.is(seen.at(-1), to - from + 1, `${engine}: progress reaches the total`);
      rows.push(r.results.map((x) => ({ ...x, ms: 0 })));
    }
    assert.equal(rows[1], rows[0]);
    assert.ok(rows[0]!.some((x) => x.probe === `127.0.0.1:${open}`), `open port ${open} named`);
  } finally {
    server.close();
  }
});

// A probe that sent nothing must not pass as blocked (issue 9 widened the sweep, which makes
// running out of sockets, buffers or local ports likelier). "not-an-address" fails inside the
// connect call, before any system call: no packet leaves, anywhere.
t('connect errors that are not the network\'s answer are "error", never "filtered"', () => {
  assert.equal(classifyName('ECONNREFUSED'), ['closed', 'ECONNREFUSED']);
  assert.equal(classifyName('ECONNRESET'), ['closed', 'ECONNRESET']);
  for (const answer of ['timeout', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EACCES']) assert.equal(classifyName(answer), ['filtered', answer]);
  for (const local of ['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM', 'EADDRNOTAVAIL', 'EINVAL', 'EAFNOSUPPORT', 'EPERM', 'cancelled', 'E9999']) {
    assert.equal(classifyName(local), ['error', local]);
  }
});

t('a sweep whose connects all fail locally fails its row, on this thread and in workers', async () => {
  const manifest = { gateway: 'not-an-address', gatewaySweep: { from: 1 as 1, to: 300 as 65535, except: [7] } };
  for (const workers of [0, 2]) {
    const scanner = new TcpScanner(16, 5000);
    const r = await gatewaySweep(manifest, scanner, undefined, { workers });
    scanner.close();
    const row = r.results[0]!;
    assert.is(row.ok, false, `${workers} worker(s): ${row.measured}`);
    assert.is(row.measured, '0 closed, 0 filtered, 0 open, 299 NOT PROBED');
    assert.match(row.detail ?? '', /299 port\(s\) could not be probed \(EINVAL\)/);
  }
});

t('a blocked-path probe that could not be tried fails as NOT PROBED; a refused one passes', async () => {
  const server = net.createServer((s) => s.destroy());
  const port = await listen(server);
  server.close();
  await new Promise((r) => server.once('close', r));
  const scanner = new TcpScanner(4, 5000);
  try {
    const rows = await mustBeBlocked('direct', [{ host: 'not-an-address', port: 443 }, { host: '127.0.0.1', port }], scanner, () => 'reachable');
    assert.is(rows[0]!.ok, false);
    assert.is(rows[0]!.measured, 'NOT PROBED (EINVAL)');
    assert.match(rows[0]!.detail ?? '', /could not try this path/);
    assert.is(rows[1]!.ok, true, rows[1]!.measured);
    assert.match(rows[1]!.measured, /^refused/);
  } finally {
    scanner.close();
  }
});

t.run();
