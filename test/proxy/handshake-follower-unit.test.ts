// The handshake follower without sockets: fed both sides' bytes in any chunking, it reaches the
// same verdicts; it holds a ClientHello until it is whole; it stops at the server's first
// encrypted record; and random bytes on either side never make it throw.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { HandshakeFollower, type ClientStep } from '../../src/proxy/handshake-follower.ts';
import { clientHello, records } from './hello-builder.ts';

const FUZZ = { seed: 20261127, numRuns: 500, interruptAfterTimeLimit: 4000 };
const LIMITS = { maxHelloBytes: 65536, maxHelloRecords: 32 };
const HRR_RANDOM = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');

// A ServerHello record: a HelloRetryRequest, TLS 1.3, or TLS 1.2 (no supported_versions).
function serverHello(kind: 'retry' | 'tls13' | 'tls12'): Buffer {
  const ext = kind === 'tls12' ? Buffer.alloc(0) : Buffer.from([0, 43, 0, 2, 3, 4]);
  const body = Buffer.concat([Buffer.from([3, 3]), kind === 'retry' ? HRR_RANDOM : Buffer.alloc(32, 1), Buffer.from([0, 0x13, 0x01, 0]),
    Buffer.from([0, ext.length]), ext]);
  return records(Buffer.concat([Buffer.from([2, 0, 0, body.length]), body]));
}

// Splits `bytes` at the given cut points.
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const p of points) { out.push(bytes.subarray(at, p)); at = p; }
  out.push(bytes.subarray(at));
  return out.filter((b) => b.length > 0);
}

// Feeds the client's bytes in chunks; the last refusal, or the first hello seen.
function feedClient(f: HandshakeFollower, chunks: Buffer[]): { refused?: string; sni?: string; heldAtEnd: boolean } {
  let sni: string | undefined;
  for (const chunk of chunks) {
    const step: ClientStep = f.client(chunk);
    if (step.status === 'refused') return { refused: step.reason, heldAtEnd: f.holding() };
    if (step.hello) sni = step.hello.sni;
  }
  return { sni, heldAtEnd: f.holding() };
}

test('a hello and a HelloRetryRequest exchange read the same in any chunking', () => {
  const first = clientHello({ sni: ['api.example.test'], recordSize: 40 });
  const bad = clientHello({ sni: ['other.example.test'], recordSize: 40 });
  const good = clientHello({ sni: ['api.example.test'] });
  fc.assert(fc.property(fc.array(fc.nat(), { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 12 }), (cutsA, cutsB) => {
    for (const [second, refused] of [[bad, true], [good, false]] as Array<[Buffer, boolean]>) {
      const f = new HandshakeFollower(LIMITS);
      assert.equal(feedClient(f, split(first, cutsA)), { sni: 'api.example.test', heldAtEnd: false });
      assert.equal(f.server(serverHello('retry')), { status: 'ok' });
      const after = feedClient(f, split(Buffer.concat([Buffer.from([20, 3, 3, 0, 1, 1]), second]), cutsB));
      assert.is(after.refused !== undefined, refused, after.refused);
      if (!refused) assert.is(after.heldAtEnd, false);
    }
  }), FUZZ);
});

test('holding: every strict prefix of a hello is held; the whole hello is not', () => {
  const hello = clientHello({ sni: ['api.example.test'], recordSize: 50 });
  for (let i = 1; i < hello.length; i++) {
    const f = new HandshakeFollower(LIMITS);
    const step = f.client(hello.subarray(0, i));
    assert.is(step.status, 'ok');
    assert.ok(f.holding(), `prefix ${i}`);
  }
  const f = new HandshakeFollower(LIMITS);
  f.client(hello);
  assert.not.ok(f.holding());
});

test('done: TLS 1.3 at the server\'s first application-data record; TLS 1.2 at its ChangeCipherSpec; not before', () => {
  const hello = clientHello({ sni: ['api.example.test'] });
  const v13 = new HandshakeFollower(LIMITS);
  v13.client(hello);
  v13.server(Buffer.concat([serverHello('tls13'), Buffer.from([20, 3, 3, 0, 1, 1])]));
  assert.not.ok(v13.done(), 'the compatibility ChangeCipherSpec is not encryption');
  v13.server(Buffer.from([23, 3, 3, 0, 1]));
  assert.ok(v13.done());
  const v12 = new HandshakeFollower(LIMITS);
  v12.client(hello);
  v12.server(serverHello('tls12'));
  // TLS 1.2: the client's plaintext flight (ClientKeyExchange), its ChangeCipherSpec, then its
  // encrypted Finished (a handshake record the follower must not try to read).
  assert.equal(v12.client(records(Buffer.from([16, 0, 0, 2, 0, 0]))), { status: 'ok' });
  assert.equal(v12.client(Buffer.from([20, 3, 3, 0, 1, 1])), { status: 'ok' });
  assert.equal(v12.client(Buffer.from([22, 3, 3, 0, 4, 0xde, 0xad, 0xbe, 0xef])), { status: 'ok' });
  assert.not.ok(v12.done());
  v12.server(Buffer.from([20, 3, 3, 0, 1, 1]));
  assert.ok(v12.done());
  const early = new HandshakeFollower(LIMITS);
  early.client(hello);
  assert.equal(early.server(Buffer.from('HTTP/1.1 400 Bad Request\r\n')), { status: 'refused', reason: 'the server did not answer with TLS' });
});

test('fuzz: random bytes after a valid hello, from either side, never throw and never pass a second hello unchecked', () => {
  const hello = clientHello({ sni: ['api.example.test'] });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), fc.boolean(), (fromClient, fromServer, serverFirst) => {
    const f = new HandshakeFollower(LIMITS);
    f.client(hello);
    if (serverFirst) f.server(Buffer.from(fromServer));
    const step = f.client(Buffer.from(fromClient));
    if (!serverFirst) f.server(Buffer.from(fromServer));
    if (step.status === 'ok') assert.is(step.hello, undefined, 'only the first hello is handed to the door');
  }), FUZZ);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
    new HandshakeFollower(LIMITS).client(Buffer.from(bytes));
  }), FUZZ);
});

test.run();
