// The HTTP/1.1 framing of injected tunnels, attacked: every smuggling shape a hostile VM would try
// is refused before a secret is added; what is accepted re-parses as exactly the requests the VM
// framed, each with the secret once; a reflected secret never reaches the VM, however the upstream
// splits it. Property and fuzz tests (fast-check) over random splits and mutations.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { RequestReader, type RequestEvent } from '../../src/inject/http/request-reader.ts';
import { writeRequestHead } from '../../src/inject/http/write-request-head.ts';
import { ResponseReader, type ResponseEvent } from '../../src/inject/http/response-reader.ts';
import { SecretScrubber, secretNeedles } from '../../src/inject/http/secret-scrubber.ts';

const TUNNEL = { host: 'api.lab.test', port: 443 };
const SECRET = `sk-lab-${randomBytes(16).toString('hex')}`;
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1e9);
const runs = { seed, numRuns: 200 };

function feed(input: Buffer | string, splits: number[] = []): RequestEvent[] {
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input, 'latin1');
  const reader = new RequestReader(TUNNEL);
  const events: RequestEvent[] = [];
  let at = 0;
  for (const cut of [...splits.filter((s) => s > 0 && s < bytes.length)].sort((a, b) => a - b)) {
    events.push(...reader.push(bytes.subarray(at, cut)));
    at = cut;
  }
  events.push(...reader.push(bytes.subarray(at)));
  return events;
}

const refusalOf = (input: string) => {
  const events = feed(input);
  const last = events.at(-1);
  return last?.type === 'refuse' ? last.code : `accepted (${events.map((e) => e.type).join(',')})`;
};

const GET = 'GET /v1/models HTTP/1.1\r\nHost: api.lab.test\r\nx-api-key: nanopolicy-placeholder:anthropic\r\n\r\n';

test('a plain GET, a Content-Length body, a chunked body and pipelined requests are read as framed', () => {
  assert.equal(feed(GET).map((e) => e.type), ['head', 'end']);
  const post = 'POST /v1/messages HTTP/1.1\r\nHost: api.lab.test:443\r\nContent-Length: 5\r\n\r\nhello';
  assert.equal(feed(post).map((e) => e.type), ['head', 'body', 'end']);
  const chunked = 'POST /x HTTP/1.1\r\nHost: API.lab.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n';
  const events = feed(chunked);
  assert.is(events.at(-1)!.type, 'end');
  assert.is(Buffer.concat(events.flatMap((e) => (e.type === 'body' ? [e.data] : []))).toString(), '5\r\nhello\r\n0\r\n\r\n');
  assert.equal(feed(GET + post + GET).filter((e) => e.type === 'head').length, 3);
});

test('every smuggling shape is refused, with its own code', () => {
  const cases: Array<[string, string]> = [
    ['cl-and-te', 'POST / HTTP/1.1\r\nHost: api.lab.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['two-content-lengths', 'POST / HTTP/1.1\r\nHost: api.lab.test\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello'],
    ['bad-content-length', 'POST / HTTP/1.1\r\nHost: api.lab.test\r\nContent-Length: 5, 5\r\n\r\nhello'],
    ['bad-content-length', 'POST / HTTP/1.1\r\nHost: api.lab.test\r\nContent-Length: +5\r\n\r\nhello'],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: api.lab.test\r\nX-A: a\r\n b\r\n\r\n'],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: api.lab.test\r\nX-A: a\r\n\tTransfer-Encoding: chunked\r\n\r\n'],
    ['bare-cr-lf', 'GET / HTTP/1.1\nHost: api.lab.test\r\n\r\n'],
    ['bare-cr-lf', 'GET / HTTP/1.1\r\nHost: api.lab.test\r\nX-A: a\rTransfer-Encoding: chunked\r\n\r\n'],
    ['bare-cr-lf', 'GET / HTTP/1.1\r\nHost: api.lab.test\n\n'],
    ['bad-header', 'GET / HTTP/1.1\r\nHost: api.lab.test\r\nTransfer-Encoding : chunked\r\n\r\n'],
    ['bad-header', 'GET / HTTP/1.1\r\nHost: api.lab.test\r\nX-A: a\0b\r\n\r\n'],
    ['bad-transfer-encoding', 'POST / HTTP/1.1\r\nHost: api.lab.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n'],
    ['bad-transfer-encoding', 'POST / HTTP/1.1\r\nHost: api.lab.test\r\nTransfer-Encoding: xchunked\r\n\r\n'],
    ['bad-transfer-encoding', 'POST / HTTP/1.1\r\nHost: api.lab.test\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['bad-transfer-encoding', 'POST / HTTP/1.0\r\nHost: api.lab.test\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['host-mismatch', 'GET / HTTP/1.1\r\nHost: evil.test\r\n\r\n'],
    ['host-mismatch', 'GET / HTTP/1.1\r\nHost: api.lab.test:8443\r\n\r\n'],
    ['host-mismatch', 'GET / HTTP/1.1\r\nHost: api.lab.test\r\nHost: evil.test\r\n\r\n'],
    ['host-mismatch', 'GET / HTTP/1.1\r\nHost: api.lab.test@evil.test\r\n\r\n'],
    ['host-missing', 'GET / HTTP/1.1\r\n\r\n'],
    ['absolute-form-other-host', 'GET http://evil.test/ HTTP/1.1\r\nHost: api.lab.test\r\n\r\n'],
    ['absolute-form-other-host', 'GET https://api.lab.test@evil.test/ HTTP/1.1\r\nHost: api.lab.test\r\n\r\n'],
    ['bad-target', 'CONNECT evil.test:443 HTTP/1.1\r\nHost: api.lab.test\r\n\r\n'],
    ['http2-preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
    ['bad-upgrade', 'GET / HTTP/1.1\r\nHost: api.lab.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\r\n'],
    ['bad-upgrade', 'POST / HTTP/1.1\r\nHost: api.lab.test\r\nConnection: upgrade\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n'],
    ['trailers', 'POST / HTTP/1.1\r\nHost: api.lab.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Api-Key: stolen\r\n\r\n'],
    ['bad-chunk', 'POST / HTTP/1.1\r\nHost: api.lab.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n'],
    ['bad-chunk', 'POST / HTTP/1.1\r\nHost: api.lab.test\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n'],
    ['bad-chunk', 'POST / HTTP/1.1\r\nHost: api.lab.test\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n'],
    ['bad-request-line', 'GET  / HTTP/1.1\r\nHost: api.lab.test\r\n\r\n'],
    ['bad-request-line', 'GET / HTTP/1.2\r\nHost: api.lab.test\r\n\r\n'],
  ];
  for (const [code, input] of cases) assert.is(refusalOf(input), code, JSON.stringify(input));
  // Absolute-form to the tunnel's own name is fine and becomes origin-form.
  const ok = feed('GET https://api.lab.test/v1/models?x=1 HTTP/1.1\r\nHost: api.lab.test\r\n\r\n')[0]!;
  assert.ok(ok.type === 'head' && ok.head.target === '/v1/models?x=1');
});

test('after a refusal nothing more is read, and a second request smuggled in a body stays body', () => {
  const reader = new RequestReader(TUNNEL);
  const events = reader.push(Buffer.from('GET / HTTP/1.1\r\nHost: evil.test\r\n\r\n' + GET));
  assert.equal(events.map((e) => e.type), ['refuse']);
  assert.equal(reader.push(Buffer.from(GET)), []);
  const hidden = 'POST / HTTP/1.1\r\nHost: api.lab.test\r\nContent-Length: ' + GET.length + '\r\n\r\n' + GET;
  assert.equal(feed(hidden).filter((e) => e.type === 'head').length, 1);
});

test('the written head carries the secret once, whatever copies the client sent, and no encoding or extension offer', () => {
  const input = 'GET /gateway HTTP/1.1\r\nHost: api.lab.test\r\nX-API-Key: a\r\nx-api-key: b\r\nAccept-Encoding: gzip, br\r\nConnection: keep-alive, x-api-key\r\n' +
    'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n';
  const head = feed(input)[0]!;
  assert.ok(head.type === 'head');
  const written = writeRequestHead(head.head, { set: [['x-api-key', SECRET]] }).toString('latin1');
  assert.is(written.split(SECRET).length - 1, 1);
  assert.not.match(written, /x-api-key: [ab]\r/i);
  assert.match(written, /\r\naccept-encoding: identity\r\n/);
  assert.not.match(written, /gzip|permessage-deflate/i);
  assert.match(written, /\r\nConnection: keep-alive\r\n/);
  assert.not.match(written, /Connection: [^\r]*x-api-key/i);
});

// A random valid request: method, path, headers and a body framed by length or chunks.
const token = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/);
const value = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,20}[\x21-\x7e])?$/);
const request = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
  path: fc.stringMatching(/^\/[a-zA-Z0-9/?=&._~-]{0,30}$/),
  headers: fc.array(fc.tuple(token.filter((t) => !['host', 'content-length', 'transfer-encoding', 'connection', 'upgrade'].includes(t)), value), { maxLength: 5 }),
  body: fc.uint8Array({ maxLength: 200 }),
  chunks: fc.option(fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 6 })),
});
type Req = typeof request extends fc.Arbitrary<infer T> ? T : never;

function frame(r: Req): Buffer {
  const head = `${r.method} ${r.path} HTTP/1.1\r\nHost: api.lab.test\r\n${r.headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}`;
  if (!r.chunks) return Buffer.concat([Buffer.from(`${head}Content-Length: ${r.body.length}\r\n\r\n`), r.body]);
  const parts: Buffer[] = [Buffer.from(`${head}Transfer-Encoding: chunked\r\n\r\n`)];
  let at = 0;
  for (const size of r.chunks) {
    if (at >= r.body.length) break;
    const piece = r.body.subarray(at, at + size);
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), Buffer.from(piece), Buffer.from('\r\n'));
    at += piece.length;
  }
  if (at < r.body.length) parts.push(Buffer.from(`${(r.body.length - at).toString(16)}\r\n`), Buffer.from(r.body.subarray(at)), Buffer.from('\r\n'));
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

// What the proxy would send upstream for these events: each head rewritten, bodies as framed.
function upstreamOf(events: RequestEvent[]): Buffer {
  return Buffer.concat(events.flatMap((e) => (e.type === 'head' ? [writeRequestHead(e.head, { set: [['x-api-key', SECRET]] })] : e.type === 'body' ? [e.data] : [])));
}

test('property: valid pipelined requests, split anywhere, are read whole; upstream re-reads as the same requests, each with the secret once', () => {
  fc.assert(fc.property(fc.array(request, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(4000), { maxLength: 12 }), (requests, splits) => {
    const bytes = Buffer.concat(requests.map(frame));
    const events = feed(bytes, splits);
    assert.not.ok(events.some((e) => e.type === 'refuse'), JSON.stringify(events.find((e) => e.type === 'refuse')));
    assert.is(events.filter((e) => e.type === 'head').length, requests.length);
    assert.is(events.filter((e) => e.type === 'end').length, requests.length);
    const again = feed(upstreamOf(events));
    const heads = again.flatMap((e) => (e.type === 'head' ? [e.head] : []));
    assert.is(heads.length, requests.length);
    heads.forEach((h, i) => {
      assert.is(h.method, requests[i]!.method);
      assert.equal(h.headers.filter(([n]) => n.toLowerCase() === 'x-api-key').map(([, v]) => v), [SECRET]);
    });
  }), runs);
});

test('fuzz: mutated requests never throw, and upstream never holds more requests than the proxy framed', () => {
  const mutation = fc.tuple(fc.nat(), fc.constantFrom('\r', '\n', ' ', '\t', ':', '0', 'chunked', 'Content-Length: 3\r\n', 'Transfer-Encoding: chunked\r\n', '\r\n\r\n', 'GET / HTTP/1.1\r\n', '\0', 'Host: evil.test\r\n'), fc.boolean());
  fc.assert(fc.property(fc.array(request, { minLength: 1, maxLength: 3 }), fc.array(mutation, { maxLength: 4 }), fc.array(fc.nat(2000), { maxLength: 6 }), (requests, mutations, splits) => {
    let text = Buffer.concat(requests.map(frame)).toString('latin1');
    for (const [at, piece, replace] of mutations) {
      const i = at % (text.length + 1);
      text = text.slice(0, i) + piece + text.slice(replace ? i + 1 : i);
    }
    const events = feed(text, splits);
    const refusedAt = events.findIndex((e) => e.type === 'refuse');
    if (refusedAt !== -1) assert.is(refusedAt, events.length - 1);
    const heads = events.filter((e) => e.type === 'head').length;
    const again = feed(upstreamOf(events.filter((e) => e.type !== 'refuse')));
    assert.is(again.filter((e) => e.type === 'head').length, heads);
    assert.not.ok(again.some((e) => e.type === 'refuse' && e.code !== 'bad-chunk'), JSON.stringify(again.at(-1)));
  }), { seed, numRuns: 500 });
});

test('fuzz: random bytes never throw', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(300), { maxLength: 5 }), (bytes, splits) => {
    feed(Buffer.from(bytes), splits);
    feed(Buffer.concat([Buffer.from('POST / HTTP/1.1\r\nHost: api.lab.test\r\nTransfer-Encoding: chunked\r\n\r\n'), Buffer.from(bytes)]), splits);
  }), runs);
});

// The response side: what the VM would receive for upstream bytes split at `splits`.
function respond(bytes: Buffer, splits: number[], method = 'GET', needles = secretNeedles([SECRET])): { out: Buffer; events: ResponseEvent[] } {
  const reader = new ResponseReader(needles);
  reader.expect(method, false);
  reader.expect(method, false);
  const events: ResponseEvent[] = [];
  let at = 0;
  for (const cut of [...splits.filter((s) => s > 0 && s < bytes.length)].sort((a, b) => a - b)) {
    events.push(...reader.push(bytes.subarray(at, cut)));
    at = cut;
  }
  events.push(...reader.push(bytes.subarray(at)), ...reader.close());
  const out = Buffer.concat(events.flatMap((e) => (e.type === 'head' || e.type === 'body' ? [e.data] : [])));
  return { out, events };
}

test('property: a reflected secret never reaches the VM, split across chunks and reads, in head or body', () => {
  const piece = fc.oneof(fc.constant(SECRET), fc.constant(JSON.stringify(SECRET).slice(1, -1)), fc.string({ maxLength: 30 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')));
  fc.assert(fc.property(fc.array(piece, { maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 10 }), fc.array(fc.nat(3000), { maxLength: 10 }), fc.boolean(), (pieces, chunkSizes, splits, chunked) => {
    const body = Buffer.from(pieces.join(''), 'latin1');
    let framedBody: Buffer;
    let head = `HTTP/1.1 200 OK\r\nx-echo: ${SECRET}\r\n`;
    if (chunked) {
      const parts: Buffer[] = [];
      let at = 0;
      let k = 0;
      while (at < body.length) {
        const size = chunkSizes[k++ % chunkSizes.length]!;
        const p = body.subarray(at, at + size);
        parts.push(Buffer.from(`${p.length.toString(16)}\r\n`), p, Buffer.from('\r\n'));
        at += p.length;
      }
      parts.push(Buffer.from('0\r\n\r\n'));
      framedBody = Buffer.concat(parts);
      head += 'Transfer-Encoding: chunked\r\n\r\n';
    } else {
      framedBody = body;
      head += `Content-Length: ${body.length}\r\n\r\n`;
    }
    const { out, events } = respond(Buffer.concat([Buffer.from(head), framedBody]), splits);
    assert.is(events.at(-1)!.type, 'end');
    // Decode what the VM got and search every byte.
    const text = out.toString('latin1');
    const [vmHead, ...rest] = text.split('\r\n\r\n');
    let vmBody = rest.join('\r\n\r\n');
    if (chunked) vmBody = dechunk(vmBody);
    assert.not.ok(text.includes(SECRET));
    assert.not.ok(vmBody.includes(SECRET));
    assert.not.ok(vmHead!.includes(SECRET));
    // Only the secret's bytes changed: same length, same text elsewhere.
    assert.is(vmBody.length, body.length);
  }), runs);
});

function dechunk(text: string): string {
  let out = '';
  for (;;) {
    const line = text.indexOf('\r\n');
    const size = parseInt(text.slice(0, line), 16);
    if (size === 0) return out;
    out += text.slice(line + 2, line + 2 + size);
    text = text.slice(line + 2 + size + 2);
  }
}

test('responses: HEAD and 204 have no body, 100 then 200, keep-alive reads two, compressed bodies are refused', () => {
  const head = respond(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n'), [], 'HEAD');
  assert.equal(head.events.map((e) => e.type), ['head', 'end']);
  const two = respond(Buffer.from('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'), []);
  assert.equal(two.events.map((e) => (e.type === 'end' ? `end${e.status}` : e.type)), ['head', 'head', 'end204', 'head', 'body', 'end200']);
  const gzip = respond(Buffer.from('HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\nok'), []);
  assert.is(gzip.events.at(-1)!.type, 'refuse');
  const cut = respond(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nshort'), []);
  assert.is(cut.events.at(-1)!.type, 'refuse');
  const untilClose = respond(Buffer.from(`HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc${SECRET}`), [30]);
  assert.is(untilClose.events.at(-1)!.type, 'end');
  assert.not.ok(untilClose.out.includes(SECRET));
});

test('a server-sent event is passed on the moment it arrives: nothing is held back', () => {
  const reader = new ResponseReader(secretNeedles([SECRET]));
  reader.expect('POST', false);
  reader.push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n'));
  const event = 'event: content_block_delta\ndata: {"delta":{"text":"hi"}}\n\n';
  const out = reader.push(Buffer.from(`${event.length.toString(16)}\r\n${event}\r\n`));
  assert.is(Buffer.concat(out.flatMap((e) => (e.type === 'body' ? [e.data] : []))).toString(), `${event.length.toString(16)}\r\n${event}\r\n`);
});

test('the scrubber holds back only a possible start of a secret', () => {
  const s = new SecretScrubber([Buffer.from('abcdefgh')]);
  assert.is(s.push(Buffer.from('xxabc')).toString(), 'xx');
  assert.is(s.push(Buffer.from('dXq')).toString(), 'abcdXq');
  assert.is(s.push(Buffer.from('abcd')).toString(), '');
  assert.is(s.push(Buffer.from('efghz')).toString(), '********z');
  assert.is(s.flush().toString(), '');
});

test.run();
