// The gateway token goes only into the d.token of an IDENTIFY or RESUME: fragmented, interleaved
// with pings, split anywhere. A placeholder in a presence, a message or any other field stays the
// placeholder; frames are re-masked; what the rewriter cannot read (unmasked, compressed,
// continuations of nothing) ends the connection. Property tests over random message streams.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { ClientFrameRewriter, type RewriteResult } from '../../src/inject/websocket/client-frame-rewriter.ts';
import { readFrame, writeMaskedFrame } from '../../src/inject/websocket/frame.ts';

const TOKEN = `lab-bot-token.${randomBytes(12).toString('base64url')}`;
const PLACEHOLDER = 'nanopolicy-placeholder:discord';
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1e9);

// A client frame: masked with a random key, FIN as given.
function frame(opcode: number, payload: Buffer | string, fin = true, rsv = 0): Buffer {
  const f = writeMaskedFrame(opcode, Buffer.from(payload), randomBytes(4));
  f[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  return f;
}

function run(bytes: Buffer, splits: number[] = []): RewriteResult[] {
  const rewriter = new ClientFrameRewriter(TOKEN);
  const out: RewriteResult[] = [];
  let at = 0;
  for (const cut of [...splits.filter((s) => s > 0 && s < bytes.length)].sort((a, b) => a - b)) {
    out.push(...rewriter.push(bytes.subarray(at, cut)));
    at = cut;
  }
  out.push(...rewriter.push(bytes.subarray(at)));
  return out;
}

// The messages a server would read from the rewriter's output (every frame must be masked).
function messages(results: RewriteResult[]): Array<{ opcode: number; text: string }> {
  let data = Buffer.concat(results.flatMap((r) => (r.type === 'send' ? [r.data] : [])));
  const out: Array<{ opcode: number; text: string }> = [];
  let current: { opcode: number; parts: Buffer[] } | undefined;
  while (data.length) {
    const f = readFrame(data);
    if (f === 'more' || 'problem' in f) throw new Error('output is not whole frames');
    assert.ok(f.masked, 'an output frame is not masked');
    data = data.subarray(f.raw.length);
    if (f.opcode >= 8) {
      out.push({ opcode: f.opcode, text: f.payload.toString('latin1') });
      continue;
    }
    if (f.opcode !== 0) current = { opcode: f.opcode, parts: [] };
    current!.parts.push(f.payload);
    if (f.fin) {
      out.push({ opcode: current!.opcode, text: Buffer.concat(current!.parts).toString(current!.opcode === 1 ? 'utf8' : 'latin1') });
      current = undefined;
    }
  }
  return out;
}

const identify = JSON.stringify({ op: 2, d: { token: PLACEHOLDER, intents: 513, properties: { os: 'macos', browser: 'discord.js', device: 'discord.js' } } });

test('an IDENTIFY in one frame gets the token; nothing else in it changes', () => {
  const [m] = messages(run(frame(1, identify)));
  const parsed = JSON.parse(m!.text);
  assert.is(parsed.d.token, TOKEN);
  assert.equal({ ...parsed, d: { ...parsed.d, token: PLACEHOLDER } }, JSON.parse(identify));
});

test('a RESUME in three fragments with a ping between them gets the token, as one frame after the ping', () => {
  const resume = JSON.stringify({ op: 6, d: { token: PLACEHOLDER, session_id: 'abc', seq: 42 } });
  const bytes = Buffer.concat([frame(1, resume.slice(0, 10), false), frame(9, 'ping'), frame(0, resume.slice(10, 30), false), frame(0, resume.slice(30), true)]);
  for (let cut = 1; cut < bytes.length; cut += 7) {
    const out = messages(run(bytes, [cut, cut + 3]));
    assert.equal(out.map((m) => m.opcode), [9, 1]);
    assert.is(JSON.parse(out[1]!.text).d.token, TOKEN);
  }
});

test('the placeholder anywhere else stays: presence, a message, another op, a nested token, op as a string', () => {
  const others = [
    { op: 3, d: { status: 'online', activities: [{ name: PLACEHOLDER, type: 0 }] } },
    { op: 2, d: { properties: { token: PLACEHOLDER } } },
    { op: '2', d: { token: PLACEHOLDER } },
    { op: 1, d: PLACEHOLDER },
    { op: 8, d: { guild_id: '1', query: PLACEHOLDER, token: PLACEHOLDER } },
    { op: 2, d: [PLACEHOLDER] },
  ].map((m) => JSON.stringify(m));
  for (const text of [...others, `not json ${PLACEHOLDER}`, `{"op":2,"d":{"token":"${PLACEHOLDER}"}`]) {
    const input = frame(1, text);
    const out = run(input);
    assert.equal(out, [{ type: 'send', data: input }], text);
  }
});

test('a repeated key is written once, as the rewriter read it', () => {
  const text = `{"op":2,"d":{"token":"${PLACEHOLDER}"},"d":{"token":"${PLACEHOLDER}","intents":1}}`;
  const [m] = messages(run(frame(1, text)));
  assert.is(m!.text, JSON.stringify({ op: 2, d: { token: TOKEN, intents: 1 } }));
});

test('what cannot be read ends the connection: unmasked, RSV1 (compressed), continuation of nothing, oversize, fragmented ping', () => {
  const unmasked = Buffer.from([0x81, 0x02, 0x68, 0x69]);
  const cases: Array<[Buffer, RegExp]> = [
    [unmasked, /not masked/],
    [frame(1, identify, true, 4), /reserved bit/],
    [frame(0, 'x'), /continues no message/],
    [frame(9, 'x', false), /control frame/],
    [Buffer.concat([frame(1, 'a', false), frame(1, 'b')]), /before the last one ended/],
    [Buffer.from([0x81, 0xff, 0, 0, 0, 0, 0x10, 0, 0, 0]), /larger than 1 MiB/],
  ];
  for (const [bytes, reason] of cases) {
    const out = run(bytes);
    const last = out.at(-1);
    assert.ok(last?.type === 'refuse', String(reason));
    if (last?.type === 'refuse') assert.match(last.reason, reason);
  }
});

test('property: any stream of messages, fragmented and split anywhere, arrives whole; only IDENTIFY/RESUME d.token holds the token', () => {
  const text = fc.oneof(
    fc.constant(identify),
    fc.record({ op: fc.constantFrom(0, 1, 2, 3, 6, 8, '2', '6'), d: fc.oneof(fc.record({ token: fc.constantFrom(PLACEHOLDER, 'x'), seq: fc.nat() }), fc.constant(PLACEHOLDER), fc.record({ status: fc.constant(PLACEHOLDER) })) }).map((m) => JSON.stringify(m)),
    fc.string({ maxLength: 40 }).map((s) => `${s}${PLACEHOLDER}`),
  );
  const message = fc.oneof(
    fc.record({ opcode: fc.constant(1), text, pieces: fc.integer({ min: 1, max: 4 }) }),
    fc.record({ opcode: fc.constant(2), text: fc.string({ maxLength: 30 }).map((s) => s + PLACEHOLDER), pieces: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ opcode: fc.constantFrom(9, 10), text: fc.string({ maxLength: 20 }), pieces: fc.constant(1) }),
  );
  fc.assert(fc.property(fc.array(message, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(3000), { maxLength: 10 }), (list, splits) => {
    const frames: Buffer[] = [];
    for (const m of list) {
      const payload = Buffer.from(m.text, m.opcode === 1 ? 'utf8' : 'latin1');
      const size = Math.ceil(payload.length / m.pieces) || 1;
      for (let i = 0, first = true; first || i < payload.length; i += size, first = false) {
        const last = i + size >= payload.length;
        frames.push(frame(first ? m.opcode : 0, payload.subarray(i, i + size), last));
      }
    }
    const out = messages(run(Buffer.concat(frames), splits));
    assert.is(out.length, list.length);
    out.forEach((got, i) => {
      const sent = list[i]!;
      assert.is(got.opcode, sent.opcode);
      let expected = sent.text;
      if (sent.opcode === 1) {
        try {
          const m = JSON.parse(sent.text);
          if ((m.op === 2 || m.op === 6) && typeof m.d === 'object' && m.d !== null && !Array.isArray(m.d) && typeof m.d.token === 'string') {
            expected = JSON.stringify({ ...m, d: { ...m.d, token: TOKEN } });
          }
        } catch {
          // not JSON: unchanged
        }
      }
      assert.is(got.text, expected);
      if (expected === sent.text) assert.not.ok(got.text.includes(TOKEN));
    });
  }), { seed, numRuns: 200 });
});

test.run();
