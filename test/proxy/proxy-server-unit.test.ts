// The proxy in-process on loopback, attacked the ways a hostile VM would: every refusal must
// answer (or close) without a byte reaching the upstream, and the proxy must stay up.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connect } from 'node:net';
import { statSync } from 'node:fs';
import {
  UPSTREAM_ADDRESS, closed, echo, eventually, request, sleep, startHarness, startRawUpstream, startTlsUpstream, tlsThrough,
  type Harness, type Upstream,
} from './proxy-harness.ts';
import { clientHello } from './hello-builder.ts';
import fc from 'fast-check';
import { readClientHello } from '../../src/proxy/handshake-follower.ts';

const HOSTS: Record<string, string[]> = {
  'api.example.test': [UPSTREAM_ADDRESS],
  'a.cdn.example.test': [UPSTREAM_ADDRESS],
  'cdn.example.test': [UPSTREAM_ADDRESS],
};

const t = suite('proxy server');
let up: Upstream;
let h: Harness;
t.before(async () => {
  up = await startTlsUpstream(['api.example.test', 'a.cdn.example.test', 'other.example.test']);
});
t.after(async () => { await up?.close(); });
t.before.each(async () => {
  h = await startHarness({ hosts: HOSTS, upstreamPort: up.port });
});
t.after.each(async () => { await h?.close(); });

t('a listed name with its own SNI gets a tunnel; bytes flow and are counted in one record', async () => {
  const { answer, tls, error } = await tlsThrough(h.proxy.address.port, 'api.example.test:443', 'api.example.test');
  assert.is(answer.status, 200);
  assert.ok(tls, String(error));
  const data = Buffer.alloc(100_000, 0x61);
  assert.equal((await echo(tls!, data)).length, data.length);
  tls!.end();
  const [record] = await eventually(() => h.audit().length === 1 && h.audit());
  assert.is(record!.decision, 'allowed');
  assert.is(record!.name, 'api.example.test');
  assert.is(record!.rule, 'api');
  assert.is(record!.sni, 'api.example.test');
  assert.is(record!.address, UPSTREAM_ADDRESS);
  assert.is(record!.port, 443);
  assert.ok(record!.bytesUp > data.length && record!.bytesDown > data.length, JSON.stringify(record));
  assert.equal(h.lookups, ['api.example.test'], 'one lookup, no second one');
  assert.equal(h.connects, [{ host: UPSTREAM_ADDRESS, port: 443 }], 'connects to the checked address');
});

t('names are matched case-insensitively with one trailing dot; wildcards only strictly below', async () => {
  const upper = await tlsThrough(h.proxy.address.port, 'API.Example.TEST.:443', 'api.example.test');
  assert.is(upper.answer.status, 200);
  assert.ok(upper.tls);
  upper.tls!.destroy();
  const below = await tlsThrough(h.proxy.address.port, 'a.cdn.example.test:443', 'a.cdn.example.test');
  assert.ok(below.tls);
  below.tls!.destroy();
  const suffix = await request(h.proxy.address.port, 'CONNECT cdn.example.test:443 HTTP/1.1\r\n\r\n');
  assert.is(suffix.status, 403);
  assert.is(suffix.body, 'name not listed\n');
});

const REFUSED: Array<[string, string | Buffer, RegExp]> = [
  ['plain GET', 'GET http://api.example.test/ HTTP/1.1\r\nHost: api.example.test\r\n\r\n', /only CONNECT/],
  ['an unlisted name', 'CONNECT evil.example.test:443 HTTP/1.1\r\n\r\n', /name not listed/],
  ['another port', 'CONNECT api.example.test:22 HTTP/1.1\r\n\r\n', /port 22 not listed/],
  ['a dotted IP', 'CONNECT 203.0.113.10:443 HTTP/1.1\r\n\r\n', /IP address/],
  ['a hex IP', 'CONNECT 0x7f000001:443 HTTP/1.1\r\n\r\n', /IP address/],
  ['an octal IP', 'CONNECT 0177.0.0.1:443 HTTP/1.1\r\n\r\n', /IP address/],
  ['a short-form IP', 'CONNECT 127.1:443 HTTP/1.1\r\n\r\n', /IP address/],
  ['a decimal IP', 'CONNECT 2130706433:443 HTTP/1.1\r\n\r\n', /IP address/],
  ['a bracketed IPv6', 'CONNECT [::1]:443 HTTP/1.1\r\n\r\n', /IP address/],
  ['a mapped IPv6', 'CONNECT [::ffff:127.0.0.1]:443 HTTP/1.1\r\n\r\n', /IP address/],
  ['an invalid name', 'CONNECT api_x.example.test:443 HTTP/1.1\r\n\r\n', /not a valid DNS name/],
  ['userinfo', 'CONNECT user@api.example.test:443 HTTP/1.1\r\n\r\n', /not a valid DNS name/],
  ['no port', 'CONNECT api.example.test HTTP/1.1\r\n\r\n', /no port/],
  ['port 0443', 'CONNECT api.example.test:0443 HTTP/1.1\r\n\r\n', /not a port/],
  ['a bare LF', 'CONNECT api.example.test:443 HTTP/1.1\n\n', /bare CR or LF/],
  ['HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', /not an HTTP\/1/],
  ['a TLS hello sent at the proxy', clientHello({ sni: ['api.example.test'] }), /control or non-ASCII/],
  ['an oversized head', `CONNECT api.example.test:443 HTTP/1.1\r\nX: ${'a'.repeat(9000)}\r\n\r\n`, /larger than 8192/],
];
for (const [what, req, reason] of REFUSED) {
  t(`refused with 403 and a reason: ${what}`, async () => {
    const answer = await request(h.proxy.address.port, req);
    assert.is(answer.status, 403, answer.head);
    assert.match(answer.body, reason);
    assert.is(answer.body.split('\n').length, 2, 'one line');
    const [record] = await eventually(() => h.audit().length === 1 && h.audit());
    assert.is(record!.decision, 'refused');
    assert.match(record!.reason, reason);
    assert.equal(h.connects, [], 'nothing was connected');
  });
}

t('a name resolving to a private, loopback or metadata address is refused; any bad address refuses the name', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['127.0.0.1'], /loopback/],
    [['10.1.2.3'], /private/],
    [['169.254.169.254'], /metadata/],
    [['::ffff:192.168.1.1'], /IPv4-mapped.*private/],
    [['64:ff9b::7f00:1'], /NAT64.*loopback/],
    [['fd00::1'], /unique local/],
    [[UPSTREAM_ADDRESS, '192.168.64.1'], /192\.168\.64\.1: private/],
  ];
  for (const [answer, reason] of cases) {
    await h.close();
    h = await startHarness({ hosts: { 'api.example.test': answer }, upstreamPort: up.port });
    const r = await request(h.proxy.address.port, 'CONNECT api.example.test:443 HTTP/1.1\r\n\r\n');
    assert.is(r.status, 403, answer.join());
    assert.match(r.body, reason);
    assert.equal(h.connects, []);
  }
});

t('denyNetworks refuses the VM subnet and the host\'s own addresses on top of the built-ins', async () => {
  await h.close();
  h = await startHarness({ hosts: HOSTS, upstreamPort: up.port, config: { denyNetworks: ['203.0.113.0/24'] } });
  const r = await request(h.proxy.address.port, 'CONNECT api.example.test:443 HTTP/1.1\r\n\r\n');
  assert.is(r.status, 403);
  assert.match(r.body, /denied network \(203\.0\.113\.0\/24\)/);
  assert.equal(h.connects, []);
});

t('a name resolving to one of the host\'s own addresses (read live, any form) is refused', async () => {
  let own = ['198.51.100.77'];
  for (const answer of [[UPSTREAM_ADDRESS], ['::ffff:203.0.113.10']]) {
    await h.close();
    h = await startHarness({ hosts: { 'api.example.test': answer }, upstreamPort: up.port, deps: { hostAddresses: () => own } });
    const before = await request(h.proxy.address.port, 'CONNECT api.example.test:443 HTTP/1.1\r\n\r\n');
    assert.is(before.status, 200, 'not the host\'s address yet');
    before.socket.destroy();
    own = ['198.51.100.77', UPSTREAM_ADDRESS]; // the host gains the address while the proxy runs
    const r = await request(h.proxy.address.port, 'CONNECT api.example.test:443 HTTP/1.1\r\n\r\n');
    assert.is(r.status, 403);
    assert.match(r.body, /one of this host's own addresses/);
    assert.is(h.connects.length, 1, 'only the first request connected');
    own = ['198.51.100.77'];
  }
});

t('audit times and durations come from the injected clock', async () => {
  await h.close();
  let clock = Date.UTC(2030, 0, 2, 3, 4, 5);
  h = await startHarness({ hosts: HOSTS, upstreamPort: up.port, deps: { now: () => (clock += 250) } });
  await request(h.proxy.address.port, 'CONNECT evil.example.test:443 HTTP/1.1\r\n\r\n');
  const record = await eventually(() => h.audit()[0]);
  assert.is(record.time, '2030-01-02T03:04:05.250Z');
  assert.is(record.durationMs, 250);
});

t('an address that does not answer falls back to the next checked one, never to a new lookup', async () => {
  await h.close();
  const tried: string[] = [];
  h = await startHarness({ hosts: { 'api.example.test': ['2001:db8::10', '198.51.100.10', UPSTREAM_ADDRESS] }, upstreamPort: up.port, deps: {
    connect: ({ host }) => {
      tried.push(host);
      // The first two are "unreachable": a refused port on loopback stands in for them.
      return connect({ host: '127.0.0.1', port: host === UPSTREAM_ADDRESS ? up.port : 1, allowHalfOpen: true });
    },
  } });
  const ok = await tlsThrough(h.proxy.address.port, 'api.example.test:443', 'api.example.test');
  assert.ok(ok.tls, String(ok.error));
  ok.tls!.destroy();
  assert.equal(tried, ['2001:db8::10', '198.51.100.10', UPSTREAM_ADDRESS]);
  assert.equal(h.lookups, ['api.example.test']);
  const record = await eventually(() => h.audit()[0]);
  assert.is(record.address, UPSTREAM_ADDRESS);
  // None answering: 502 naming each attempt.
  await h.close();
  h = await startHarness({ hosts: { 'api.example.test': ['198.51.100.10'] }, upstreamPort: 1 });
  const none = await request(h.proxy.address.port, 'CONNECT api.example.test:443 HTTP/1.1\r\n\r\n');
  assert.is(none.status, 502);
  assert.match(none.body, /^could not connect: 198\.51\.100\.10 port 443 \(ECONNREFUSED\)\n$/);
});

t('a name that does not resolve gets 502 and is logged', async () => {
  await h.close();
  h = await startHarness({ hosts: {}, upstreamPort: up.port });
  const r = await request(h.proxy.address.port, 'CONNECT api.example.test:443 HTTP/1.1\r\n\r\n');
  assert.is(r.status, 502);
  assert.match(r.body, /did not resolve \(ENOTFOUND\)/);
});

// After "200": the upstream must not receive a single byte unless the hello checks out.
async function afterTunnel(send: Buffer | string): Promise<{ closedWith: Buffer }> {
  const raw = await startRawUpstream();
  await h.close();
  h = await startHarness({ hosts: HOSTS, upstreamPort: raw.port });
  const answer = await request(h.proxy.address.port, 'CONNECT api.example.test:443 HTTP/1.1\r\n\r\n');
  assert.is(answer.status, 200);
  let got = Buffer.alloc(0);
  answer.socket.on('data', (d: Buffer) => { got = Buffer.concat([got, d]); });
  answer.socket.resume();
  answer.socket.write(send);
  await closed(answer.socket);
  await sleep(20);
  assert.is(raw.received.reduce((n, b) => n + b.length, 0), 0, 'no byte reached the upstream');
  await raw.close();
  return { closedWith: got };
}

t('after 200: another SNI is closed with a TLS access_denied alert, nothing relayed', async () => {
  const { closedWith } = await afterTunnel(clientHello({ sni: ['other.example.test'] }));
  assert.equal([...closedWith], [0x15, 3, 3, 0, 2, 2, 0x31]);
  const record = await eventually(() => h.audit().find((r) => r.decision === 'refused'));
  assert.match(record.reason, /SNI "other.example.test" is not the CONNECT name/);
  assert.is(record.sni, 'other.example.test');
});

t('after 200: a hello without SNI, with two SNIs, with ECH, or not TLS at all is closed', async () => {
  for (const [send, reason] of [
    [clientHello({}), /no SNI/],
    [clientHello({ sni: ['api.example.test', 'other.example.test'] }), /more than one host_name/],
    [clientHello({ sni: ['api.example.test'], extensions: [[0xfe0d, Buffer.from([0, 1, 2])]] }), /ECH/],
    ['GET / HTTP/1.1\r\nHost: api.example.test\r\n\r\n', /not TLS/],
  ] as Array<[Buffer | string, RegExp]>) {
    await afterTunnel(send);
    const record = await eventually(() => h.audit().find((r) => r.decision === 'refused'));
    assert.match(record.reason, reason);
  }
});

t('a hello split into 1-byte TCP writes and 50-byte TLS records is relayed whole, byte for byte', async () => {
  const raw = await startRawUpstream();
  await h.close();
  h = await startHarness({ hosts: HOSTS, upstreamPort: raw.port });
  const answer = await request(h.proxy.address.port, 'CONNECT api.example.test:443 HTTP/1.1\r\n\r\n');
  const hello = clientHello({ sni: ['api.example.test'], recordSize: 50 });
  answer.socket.setNoDelay(true);
  for (const byte of hello) {
    answer.socket.write(Buffer.from([byte]));
    await sleep(1);
  }
  await eventually(() => raw.received[0]?.length === hello.length);
  assert.equal(raw.received[0], hello);
  answer.socket.destroy();
  const record = await eventually(() => h.audit()[0]);
  assert.is(record.decision, 'allowed', record.reason);
  assert.is(record.bytesUp, hello.length);
  await raw.close();
});

t('slow clients: a head not done within headerMs gets 403; a hello not done within helloMs is closed', async () => {
  await h.close();
  h = await startHarness({ hosts: HOSTS, upstreamPort: up.port, config: { timeouts: { headerMs: 150, helloMs: 150, connectMs: 1000, idleMs: 1000, stallMs: 30_000 } } });
  const slow = await request(h.proxy.address.port, 'CONNECT api.example.test:443 HTTP/1.1\r\n');
  assert.is(slow.status, 403);
  assert.match(slow.body, /not complete within 150 ms/);
  const tunnel = await request(h.proxy.address.port, 'CONNECT api.example.test:443 HTTP/1.1\r\n\r\n');
  tunnel.socket.resume();
  tunnel.socket.write(clientHello({ sni: ['api.example.test'] }).subarray(0, 20));
  await closed(tunnel.socket);
  const record = await eventually(() => h.audit().find((r) => /ClientHello within/.test(r.reason)));
  assert.is(record.decision, 'refused');
});

t('a client that half-closes mid-request is answered at once, not after the timeout', async () => {
  const started = Date.now();
  const answer = await new Promise<string>((resolve) => {
    const s = connect({ host: '127.0.0.1', port: h.proxy.address.port });
    let got = '';
    s.on('data', (d) => (got += d));
    s.on('close', () => resolve(got));
    s.end('CONNECT api.example.test:443 HTTP/1.1\r\nHost: a');
  });
  assert.ok(Date.now() - started < 1000, 'well before headerMs (10 s)');
  assert.match(answer, /^HTTP\/1\.1 403 Forbidden\r\n[^]*\r\n\r\nclient closed before sending a complete request\n$/);
  const record = await eventually(() => h.audit()[0]);
  assert.is(record.reason, 'client closed before sending a complete request');
});

t('an idle tunnel is closed after idleMs and logged as such', async () => {
  await h.close();
  h = await startHarness({ hosts: HOSTS, upstreamPort: up.port, config: { timeouts: { headerMs: 1000, helloMs: 1000, connectMs: 1000, idleMs: 200, stallMs: 30_000 } } });
  const { tls } = await tlsThrough(h.proxy.address.port, 'api.example.test:443', 'api.example.test');
  assert.ok(tls);
  tls!.on('error', () => {});
  await closed(tls!);
  const record = await eventually(() => h.audit()[0]);
  assert.is(record.decision, 'allowed');
  assert.match(record.reason, /idle for 200 ms/);
});

t('clients outside allowClients are closed without a byte and logged', async () => {
  await h.close();
  h = await startHarness({ hosts: HOSTS, upstreamPort: up.port, config: { allowClients: ['192.168.64.2/32'] } });
  const r = await request(h.proxy.address.port, 'CONNECT api.example.test:443 HTTP/1.1\r\n\r\n').catch((e: Error) => ({ status: -1, head: e.message, body: '' }));
  assert.ok(r.status === 0 && r.head === '' || r.status === -1, `got ${r.head}`);
  const record = await eventually(() => h.audit()[0]);
  assert.is(record.reason, 'client not allowed');
  assert.is(record.client, '127.0.0.1');
});

t('maxConnections: the next client gets 503 while the others stay open', async () => {
  await h.close();
  h = await startHarness({ hosts: HOSTS, upstreamPort: up.port, config: { maxConnections: 2 } });
  const held = await Promise.all([0, 1].map(async () => (await tlsThrough(h.proxy.address.port, 'api.example.test:443', 'api.example.test')).tls!));
  await eventually(() => h.proxy.connections() === 2);
  const third = await request(h.proxy.address.port, 'CONNECT api.example.test:443 HTTP/1.1\r\n\r\n');
  assert.is(third.status, 503);
  assert.equal((await echo(held[0]!, Buffer.from('still here'))).toString(), 'still here');
  for (const s of held) s.destroy();
  await eventually(() => h.proxy.connections() === 0);
  const fourth = await tlsThrough(h.proxy.address.port, 'api.example.test:443', 'api.example.test');
  assert.ok(fourth.tls, 'slots are given back when tunnels close');
  fourth.tls!.destroy();
});

t('backpressure: a client that stops reading stops the proxy reading from the upstream', async () => {
  let pending = 0;
  const raw = await startRawUpstream((socket) => {
    // Floods 64 MiB at the tunnel once the hello arrives.
    socket.once('data', () => {
      // What follows an application-data record header is encrypted to the proxy: relayed unread.
      socket.write(Buffer.from([23, 3, 3, 0x40, 0]));
      const chunk = Buffer.alloc(1 << 20);
      for (let i = 0; i < 64; i++) socket.write(chunk);
      pending = socket.writableLength;
    });
  });
  await h.close();
  h = await startHarness({ hosts: HOSTS, upstreamPort: raw.port });
  const answer = await request(h.proxy.address.port, 'CONNECT api.example.test:443 HTTP/1.1\r\n\r\n');
  answer.socket.write(clientHello({ sni: ['api.example.test'] }));
  // The client never reads: after the socket buffers fill, most of the 64 MiB must still wait
  // in the upstream's own buffer, not in the proxy's memory.
  await eventually(() => pending > 0);
  await sleep(500);
  assert.is(h.proxy.connections(), 1);
  answer.socket.destroy();
  const record = await eventually(() => h.audit()[0]);
  assert.is(record.decision, 'allowed');
  assert.ok(record.bytesDown < 16 * (1 << 20), `the proxy read only what it could pass on: ${record.bytesDown} bytes`);
  await raw.close();
});

t('close() ends every tunnel, writes its record, and the log is 0600', async () => {
  const { tls } = await tlsThrough(h.proxy.address.port, 'api.example.test:443', 'api.example.test');
  tls!.on('error', () => {});
  await h.proxy.close();
  await closed(tls!);
  const [record] = h.audit();
  assert.is(record!.reason, 'proxy stopped');
  assert.is(statSync(h.config.auditLog).mode & 0o777, 0o600);
});

t('garbage from many clients at once never takes the server down', async () => {
  const junk = [Buffer.from([0, 255, 13, 10, 13, 10]), Buffer.from('CONNECT \r\n\r\n'), Buffer.alloc(70_000, 0x41),
    Buffer.from('CONNECT :443 HTTP/1.1\r\n\r\n'), Buffer.from('CONNECT api.example.test:99999 HTTP/1.1\r\n\r\n')];
  await Promise.all(Array.from({ length: 40 }, (_, i) => new Promise<void>((resolve) => {
    const s = connect({ host: '127.0.0.1', port: h.proxy.address.port });
    s.on('error', () => resolve());
    s.on('close', () => resolve());
    s.on('data', () => {});
    s.write(junk[i % junk.length]!);
    if (i % 3 === 0) s.destroy(); // some vanish mid-request (RST)
    else s.end();
  })));
  const ok = await tlsThrough(h.proxy.address.port, 'api.example.test:443', 'api.example.test');
  assert.ok(ok.tls, 'still serving');
  ok.tls!.destroy();
  await eventually(() => h.proxy.connections() === 0);
});

t('fuzz: whatever follows a CONNECT, not a byte reaches the upstream unless it is a hello for that name', async () => {
  const raw = await startRawUpstream();
  await h.close();
  h = await startHarness({ hosts: HOSTS, upstreamPort: raw.port, config: { timeouts: { headerMs: 500, helloMs: 300, connectMs: 1000, idleMs: 1000, stallMs: 30_000 } } });
  const good = clientHello({ sni: ['api.example.test'] });
  const arb = fc.oneof(
    fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b)),
    fc.tuple(fc.nat(good.length), fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }))
      .map(([cut, flips]) => { const b = Buffer.from(good); for (const [at, v] of flips) b[at] = v; return b.subarray(0, cut); }),
  );
  await fc.assert(fc.asyncProperty(arb, async (bytes) => {
    const before = raw.received.length;
    const answer = await request(h.proxy.address.port, 'CONNECT api.example.test:443 HTTP/1.1\r\n\r\n');
    assert.is(answer.status, 200);
    answer.socket.resume();
    answer.socket.on('error', () => {});
    answer.socket.end(bytes);
    await closed(answer.socket, 2000).catch(() => {});
    await sleep(5);
    const hello = readClientHello(bytes, 65536);
    const passes = hello.status === 'hello' && hello.sni === 'api.example.test' && !hello.ech;
    const relayed = raw.received.slice(before).reduce((n, b) => n + b.length, 0);
    if (!passes) assert.is(relayed, 0, `relayed ${relayed} bytes of ${bytes.toString('hex').slice(0, 40)}`);
  }), { seed: 11, numRuns: 300, interruptAfterTimeLimit: 15_000 });
  const ok = await request(h.proxy.address.port, 'CONNECT api.example.test:443 HTTP/1.1\r\n\r\n');
  assert.is(ok.status, 200, 'still serving');
  ok.socket.destroy();
  await raw.close();
});

t('fuzz: random request heads get a status line or a close, and the server keeps serving', async () => {
  const piece = fc.constantFrom('CONNECT', ' ', 'api.example.test', ':443', ':', 'HTTP/1.1', '\r\n', '\n', '\r', 'Host: x', '[::1]',
    '0x7f.1', '\u0000', 'é', 'GET', '.', '*', '%2e', '@');
  await fc.assert(fc.asyncProperty(fc.array(piece, { maxLength: 20 }), async (pieces) => {
    const text = pieces.join('');
    const answer = await request(h.proxy.address.port, Buffer.from(text, 'utf8'), { end: true });
    // Every head is answered: a refusal with a status line, or 200 for the one good request.
    assert.ok([200, 403, 502].includes(answer.status), `${JSON.stringify(text)} got ${JSON.stringify(answer.head)}`);
    answer.socket.destroy();
  }), { seed: 5, numRuns: 400, interruptAfterTimeLimit: 15_000 });
  const ok = await tlsThrough(h.proxy.address.port, 'api.example.test:443', 'api.example.test');
  assert.ok(ok.tls, 'still serving');
  ok.tls!.destroy();
});

t.run();
