// The proxy's three parsers of hostile bytes: the request head, the CONNECT target and the TLS
// ClientHello. Table cases for each rule, then seeded fast-check runs: random, truncated and
// mutated input must never throw, and a complete answer must never come from a prefix.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { createServer } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { readRequestHead } from '../../src/proxy/request-head.ts';
import { parseConnectTarget } from '../../src/proxy/connect-target.ts';
import { readClientHello } from '../../src/proxy/handshake-follower.ts';
import { clientHello, helloMessage, records, serverNameExtension } from './hello-builder.ts';

const FUZZ = { seed: 20261127, numRuns: 3000, interruptAfterTimeLimit: 4000 };
const MAX_HEAD = 8192;
const MAX_HELLO = 65536;

// ---- request head ----

test('head: a CONNECT head is read with its headers and whatever followed it', () => {
  const r = readRequestHead(Buffer.from('CONNECT a.example.test:443 HTTP/1.1\r\nHost: a.example.test:443\r\nUser-Agent: curl\r\n\r\n\x16\x03'), MAX_HEAD);
  assert.is(r.status, 'connect');
  if (r.status !== 'connect') return;
  assert.is(r.target, 'a.example.test:443');
  assert.equal(r.headers, [['host', 'a.example.test:443'], ['user-agent', 'curl']]);
  assert.equal([...r.rest], [0x16, 3]);
});

test('head: every prefix of a valid head is incomplete, never a decision', () => {
  const head = Buffer.from('CONNECT a.example.test:443 HTTP/1.1\r\nHost: x\r\n\r\n');
  for (let i = 0; i < head.length; i++) assert.is(readRequestHead(head.subarray(0, i), MAX_HEAD).status, 'incomplete', `prefix ${i}`);
});

test('head: refusals, each with its reason', () => {
  const cases: Array<[string, RegExp]> = [
    ['GET http://a.example.test/ HTTP/1.1\r\n\r\n', /only CONNECT is allowed, not GET/],
    ['connect a.example.test:443 HTTP/1.1\r\n\r\n', /only CONNECT/],
    ['CONNECT  a.example.test:443 HTTP/1.1\r\n\r\n', /malformed request line/],
    ['CONNECT a.example.test:443 HTTP/1.1 x\r\n\r\n', /malformed request line/],
    ['CONNECT a.example.test:443 HTTP/2\r\n\r\n', /not an HTTP\/1/],
    ['CONNECT a.example.test:443 HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n', /folded/],
    ['CONNECT a.example.test:443 HTTP/1.1\r\nNo colon\r\n\r\n', /malformed header/],
    ['CONNECT a.example.test:443 HTTP/1.1\r\nX: \x01\r\n\r\n', /control or non-ASCII/],
    ['CONNECT a.example.test:443 HTTP/1.1\r\nX: é\r\n\r\n', /control or non-ASCII/],
    ['CONNECT a.example.test:443 HTTP/1.1\nHost: a\r\n\r\n', /bare CR or LF/],
    ['CONNECT a.example.test:443 HTTP/1.1\rHost: a\r\n\r\n', /bare CR or LF/],
    ['CONNECT a.example.test:443 HTTP/1.1\n', /bare CR or LF/],
    [`CONNECT a.example.test:443 HTTP/1.1\r\nX: ${'a'.repeat(MAX_HEAD)}`, /larger than 8192/],
    [`CONNECT a.example.test:443 HTTP/1.1\r\nX: ${'a'.repeat(MAX_HEAD - 40)}\r\n\r\n`, /larger than 8192/],
  ];
  for (const [text, reason] of cases) {
    const r = readRequestHead(Buffer.from(text, 'utf8'), MAX_HEAD);
    assert.is(r.status, 'refused', JSON.stringify(text.slice(0, 60)));
    if (r.status === 'refused') assert.match(r.reason, reason);
  }
});

test('head fuzz: random bytes and random printable heads never throw; a decision needs CRLFCRLF or the cap', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
    const r = readRequestHead(Buffer.from(bytes), 256);
    if (r.status === 'connect') assert.ok(Buffer.from(bytes).includes('\r\n\r\n'));
  }), FUZZ);
  const line = fc.stringMatching(/^[A-Za-z: \-.0-9\t\r\n[\]@]{0,60}$/);
  fc.assert(fc.property(fc.array(line, { maxLength: 8 }), fc.nat(400), (lines, cut) => {
    const text = `CONNECT ${lines.join('\r\n')}\r\n\r\n`;
    const bytes = Buffer.from(text).subarray(0, cut);
    const r = readRequestHead(bytes, MAX_HEAD);
    if (r.status === 'connect') parseConnectTarget(r.target); // must not throw either
  }), FUZZ);
});

// ---- CONNECT target ----

test('target: names normalised, ports strict', () => {
  assert.equal(parseConnectTarget('API.Example.TEST.:443'), { ok: true, name: 'api.example.test', port: 443 });
  assert.equal(parseConnectTarget('a-b.c1.example.test:65535'), { ok: true, name: 'a-b.c1.example.test', port: 65535 });
  for (const bad of ['a.example.test:0', 'a.example.test:65536', 'a.example.test:0443', 'a.example.test:+443', 'a.example.test:',
    'a.example.test: 443', 'a.example.test:443x']) {
    const r = parseConnectTarget(bad);
    assert.is(r.ok, false, bad);
    if (!r.ok) assert.match(r.reason, /not a port/);
  }
});

test('target: every spelling of an IP address is refused as one', () => {
  for (const ip of ['127.0.0.1', '127.1', '127.0.1', '0x7f000001', '0x7F.0.0.1', '0177.0.0.1', '2130706433', '017700000001',
    '1.2.3.4.', '0x7f.1', '10.0.0.0x1', '[::1]', '[::ffff:127.0.0.1]', '[fe80::1%25eth0]', '[0:0:0:0:0:0:0:1]', '::1', '0', '0x']) {
    const r = parseConnectTarget(`${ip}:443`);
    assert.is(r.ok, false, ip);
    if (!r.ok) assert.match(r.reason, /IP address/, ip);
  }
});

test('target: names that are not DNS names are refused', () => {
  for (const name of ['a_b.example.test', 'user@a.example.test', 'a.example.test/x', '-a.example.test', 'a-.example.test',
    'a..example.test', '.a.example.test', 'a.example.test..', 'localhost', 'x', `${'a'.repeat(64)}.test`, `${'a.'.repeat(127)}test`,
    'a%2eexample.test', 'a example.test', 'ä.example.test', '*.example.test', '']) {
    const r = parseConnectTarget(`${name}:443`);
    assert.is(r.ok, false, name);
    if (!r.ok) assert.match(r.reason, /not a valid DNS name|IP address/, name);
  }
});

test('target fuzz: any string gives a decision without throwing, and an accepted name is a clean DNS name', () => {
  fc.assert(fc.property(fc.string({ maxLength: 80 }), (text) => {
    const r = parseConnectTarget(text);
    if (r.ok) {
      assert.ok(/^[a-z0-9.-]+$/.test(r.name) && r.port >= 1 && r.port <= 65535, text);
      assert.ok(!/^[\d.]+$/.test(r.name), text);
    }
  }), FUZZ);
});

// ---- ClientHello ----

const NO = { ech: false, earlyData: false };

test('hello: SNI read from a hand-built hello, whole or split into small records; past the record cap refused', () => {
  for (const size of [16384, 100, 7, 1]) {
    const r = readClientHello(clientHello({ sni: ['a.example.test'], recordSize: size }), MAX_HELLO, 1000);
    assert.equal(r, { status: 'hello', sni: 'a.example.test', ...NO }, `records of ${size}`);
  }
  // A real hello needs at most four records; one-byte records are an attack on the parser.
  const tiny = readClientHello(clientHello({ sni: ['a.example.test'], recordSize: 1 }), MAX_HELLO);
  assert.equal(tiny, { status: 'refused', reason: 'ClientHello split over more than 32 TLS records' });
  assert.equal(readClientHello(clientHello({}), MAX_HELLO), { status: 'hello', sni: undefined, ...NO });
  assert.equal(readClientHello(clientHello({ withExtensions: false }), MAX_HELLO), { status: 'hello', sni: undefined, ...NO });
  // Every ECH and ESNI code point, the drafts' included, marks the hello as hiding its name.
  for (const code of [0xfe0d, 0xfe08, 0xfe09, 0xfe0a, 0xfe0b, 0xfe0c, 0xffce]) {
    assert.equal(readClientHello(clientHello({ sni: ['a.example.test'], extensions: [[code, Buffer.from([1])]] }), MAX_HELLO),
      { status: 'hello', sni: 'a.example.test', ech: true, earlyData: false }, code.toString(16));
  }
  assert.equal(readClientHello(clientHello({ sni: ['a.example.test'], extensions: [[0xfe07, Buffer.from([1])]] }), MAX_HELLO),
    { status: 'hello', sni: 'a.example.test', ...NO }, 'not an ECH code point');
});

test('hello: every strict prefix is incomplete (a hello split over TCP segments waits for the rest)', () => {
  const hello = clientHello({ sni: ['a.example.test'], recordSize: 30 });
  for (let i = 0; i < hello.length; i++) assert.is(readClientHello(hello.subarray(0, i), MAX_HELLO).status, 'incomplete', `prefix ${i}`);
  // 0-RTT data after a hello that offered it passes; after one that did not, it is refused.
  const early = clientHello({ sni: ['a.example.test'], extensions: [[42, Buffer.alloc(0)]] });
  assert.is(readClientHello(Buffer.concat([early, Buffer.from([23, 3, 3, 0, 1, 0])]), MAX_HELLO).status, 'hello');
  assert.equal(readClientHello(Buffer.concat([hello, Buffer.from([23, 3, 3, 0, 1, 0])]), MAX_HELLO),
    { status: 'refused', reason: 'application data before the TLS handshake finished' });
});

test('hello: refusals', () => {
  const message = helloMessage({ sni: ['a.example.test'] });
  const cases: Array<[Buffer, RegExp]> = [
    [Buffer.from('GET / HTTP/1.1\r\n\r\n'), /^not TLS$/],
    [Buffer.from([0x80, 0x2e, 0x01, 0x00, 0x02]), /SSL 2.0/],
    [Buffer.from([22, 2, 0, 0, 5, 1, 0, 0, 1, 0]), /bad record version/],
    [Buffer.from([22, 3, 1, 0, 0]), /record length 0/],
    [Buffer.from([22, 3, 1, 0x40, 0x01]), /record length 16385/],
    [records(Buffer.from([2, 0, 0, 4, 3, 3, 0, 0])), /not a ClientHello/],
    [Buffer.concat([records(message.subarray(0, 10)), Buffer.from([23, 3, 3, 0, 1, 0])]), /interrupted/],
    [records(Buffer.concat([message, Buffer.from([20, 0, 0, 0])])), /unexpected bytes after/],
    [clientHello({ sni: ['a.example.test', 'b.example.test'] }), /more than one host_name/],
    [clientHello({ sni: ['a.example.test'], extensions: [[0, serverNameExtension(['b.example.test'])]] }), /appears twice/],
    [clientHello({ sni: ['a.example\x00.test'] }), /not an ASCII name/],
    [clientHello({ sni: [''] }), /not an ASCII name/],
    [clientHello({ extensions: [[0, Buffer.from([0, 0])]] }), /server_name list length/],
    [clientHello({ extensions: [[0, Buffer.from([0, 3, 1, 0, 0])]] }), /holds no host_name/],
    [records(Buffer.from([1, 0, 0, 2, 3, 3])), /too short/],
  ];
  for (const [bytes, reason] of cases) {
    const r = readClientHello(bytes, MAX_HELLO);
    assert.is(r.status, 'refused', String(reason));
    if (r.status === 'refused') assert.match(r.reason, reason);
  }
});

test('hello: the size cap holds for a declared length and for records that never end', () => {
  const big = clientHello({ sni: ['a.example.test'], extensions: [[0x15, Buffer.alloc(20_000)], [0x16, Buffer.alloc(20_000)]], recordSize: 16000 });
  assert.is(readClientHello(big, 65536).status, 'hello');
  const r = readClientHello(big, 32768);
  assert.is(r.status, 'refused');
  if (r.status === 'refused') assert.match(r.reason, /larger than 32768/);
  assert.is(readClientHello(big.subarray(0, 9), 32768).status, 'refused', 'refused as soon as the declared length is seen');
  // A handshake header claiming 16 MiB is refused at once, before any of it is buffered.
  assert.is(readClientHello(Buffer.from([22, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff]), MAX_HELLO).status, 'refused');
  const small = readClientHello(clientHello({ sni: ['a.example.test'], extensions: [[0x15, Buffer.alloc(600)]] }), 512);
  assert.is(small.status, 'refused');
});

// Captures the first flight a real TLS client (Node's OpenSSL) sends.
async function realHello(servername: string): Promise<Buffer> {
  let got = Buffer.alloc(0);
  const server = createServer((s) => s.on('data', (d: Buffer) => {
    got = Buffer.concat([got, d]);
    if (readClientHello(got, MAX_HELLO).status !== 'incomplete') s.destroy();
  }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => {
    const c = tlsConnect({ host: '127.0.0.1', port, servername });
    c.on('error', () => resolve());
    c.on('close', () => resolve());
  });
  server.close();
  return got;
}

test('hello: a real OpenSSL ClientHello gives its SNI; fuzzed mutations and truncations never throw', async () => {
  const hello = await realHello('api.example.test');
  assert.equal(readClientHello(hello, MAX_HELLO), { status: 'hello', sni: 'api.example.test', ...NO });
  // Re-fragmented into small records, it still reads the same.
  const message = hello.subarray(5, 5 + hello.readUInt16BE(3));
  assert.equal(readClientHello(records(message, 13), MAX_HELLO, 1000), { status: 'hello', sni: 'api.example.test', ...NO });
  fc.assert(fc.property(fc.nat(hello.length), fc.array(fc.tuple(fc.nat(hello.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
    (cut, flips) => {
      const mutated = Buffer.from(hello);
      for (const [at, value] of flips) mutated[at] = value;
      const r = readClientHello(mutated.subarray(0, cut), MAX_HELLO);
      if (cut < hello.length && flips.length === 0) assert.is(r.status, 'incomplete');
      if (r.status === 'hello' && r.sni !== undefined) assert.ok(r.sni.length > 0);
    }), FUZZ);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => { readClientHello(Buffer.from(bytes), 512); }), FUZZ);
  // Random bytes behind a valid record header exercise the body parser rather than the framing.
  fc.assert(fc.property(fc.uint8Array({ minLength: 4, maxLength: 400 }), (body) => {
    const b = Buffer.from(body);
    b[0] = 1;
    b.writeUIntBE(b.length - 4, 1, 3);
    readClientHello(records(b, 97), MAX_HELLO);
  }), FUZZ);
});

test.run();
