// "Who gets a slot": idle tunnels re-opened as fast as they close must not hold every slot (the VM
// is one client address, so the group holding the most gives up its idlest), and a client that
// stopped reading is cut after stallMs, not held for the 5-minute idle timeout.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EVICT_IDLE_MS, pickEvictee, type Slot } from '../../src/proxy/fair-share.ts';
import { UPSTREAM_ADDRESS, eventually, request, sleep, startHarness, startRawUpstream, startTlsUpstream, tlsThrough } from './proxy-harness.ts';
import { clientHello } from './hello-builder.ts';

const slot = (group: string, idle: number, finished = false): Slot & { id: string } => ({ id: `${group}/${idle}`, group: () => group, idleFor: () => idle, isFinished: () => finished });

test('pickEvictee: the idlest of the largest group, only when idle long enough, never a group of one', () => {
  const open = [slot('vm rule cdn', 5000), slot('vm rule cdn', 9000), slot('vm rule cdn', 100), slot('vm rule api', 60_000), slot('vm rule api', 70_000)];
  assert.is(pickEvictee(open)?.id, 'vm rule cdn/9000', 'the largest group pays, not the idlest tunnel overall');
  assert.is(pickEvictee([slot('vm rule cdn', EVICT_IDLE_MS - 1), slot('vm rule cdn', 10)]), undefined, 'busy tunnels are not closed');
  assert.is(pickEvictee([slot('a', 9000), slot('b', 9000)]), undefined, 'every group at one slot: nobody has more than a fair share');
  assert.is(pickEvictee([slot('a', 9000, true), slot('a', 9000, true), slot('b', 5000)]), undefined, 'connections already ending do not count');
});

test('idle tunnels to one wildcard filling every slot: an honest name still gets in, the flood loses its idlest', async () => {
  const up = await startTlsUpstream(['api.example.test', ...Array.from({ length: 8 }, (_, i) => `x${i}.cdn.example.test`)]);
  const hosts: Record<string, string[]> = { 'api.example.test': [UPSTREAM_ADDRESS] };
  for (let i = 0; i < 8; i++) hosts[`x${i}.cdn.example.test`] = [UPSTREAM_ADDRESS];
  const h = await startHarness({ hosts, upstreamPort: up.port, config: { maxConnections: 8 } });
  try {
    const flood = await Promise.all(Array.from({ length: 8 }, (_, i) => tlsThrough(h.proxy.address.port, `x${i}.cdn.example.test:443`, `x${i}.cdn.example.test`)));
    assert.ok(flood.every((f) => f.tls), 'the flood holds all 8 slots');
    for (const f of flood) f.tls!.on('error', () => {});
    await sleep(EVICT_IDLE_MS + 200);
    const honest = await tlsThrough(h.proxy.address.port, 'api.example.test:443', 'api.example.test');
    assert.ok(honest.tls, `honest name: ${honest.answer.status} ${honest.answer.body}`);
    honest.tls!.destroy();
    const evicted = await eventually(() => h.audit().find((r) => /closed to make room/.test(r.reason)));
    assert.is(evicted.rule, 'cdn');
    assert.is(evicted.decision, 'allowed', 'it was allowed; it only lost its slot');
    for (const f of flood) f.tls!.destroy();
  } finally {
    await h.close();
    await up.close();
  }
});

test('a client that stops reading is cut after stallMs, and logged as such', async () => {
  const raw = await startRawUpstream((socket) => socket.once('data', () => {
    socket.write(Buffer.from([23, 3, 3, 0x40, 0]));
    const chunk = Buffer.alloc(1 << 20);
    for (let i = 0; i < 32; i++) socket.write(chunk);
  }));
  const h = await startHarness({ hosts: { 'api.example.test': [UPSTREAM_ADDRESS] }, upstreamPort: raw.port,
    config: { timeouts: { headerMs: 1000, helloMs: 1000, connectMs: 1000, idleMs: 60_000, stallMs: 300 } } });
  try {
    const answer = await request(h.proxy.address.port, 'CONNECT api.example.test:443 HTTP/1.1\r\n\r\n');
    const started = Date.now();
    answer.socket.write(clientHello({ sni: ['api.example.test'] })); // and never reads again
    const record = await eventually(() => h.audit()[0], 5000);
    assert.match(record.reason, /the client stopped reading for 300 ms/);
    assert.ok(Date.now() - started < 3000, 'cut after the stall timeout, not the idle one');
    answer.socket.destroy();
  } finally {
    await h.close();
    await raw.close();
  }
});

test.run();
