// The DNS responder's decision (src/proxy/dns-answer.ts), attacked with what a hostile VM can put
// in a datagram: unlisted names, names that only look listed, other types and classes, many
// questions, answers sent as queries, truncated and random bytes, compression loops, huge names.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import * as dnsPacket from 'dns-packet';
import { answerDnsQuery, type DnsAnswerOptions } from '../../src/proxy/dns-answer.ts';

const OPTIONS: DnsAnswerOptions = {
  rules: [
    { name: 'claude', host: 'api.anthropic.com', port: 443 },
    { name: 'discord', host: 'gateway.discord.gg', port: 443 },
    { name: 'cdn', host: '*.cdn.example.test', port: 8443 },
  ],
  answer: '192.168.64.1',
  ttl: 60,
};

// A query as a stub resolver sends it.
function query(name: string, type: dnsPacket.RecordType = 'A', extra: Partial<dnsPacket.Packet> = {}): Buffer {
  return dnsPacket.encode({ id: 0x1234, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: 'IN' }], ...extra });
}

/** A decoded reply as dns-packet returns it (its types leave out rcode and the answers' fields). */
interface Reply {
  id: number;
  type: string;
  rcode: string;
  questions: unknown[];
  answers: Array<{ type: string; name: string; data: string; ttl: number }>;
}
const decode = (bytes: Buffer): Reply => dnsPacket.decode(bytes) as unknown as Reply;

// The reply decoded, or a failure when there was none.
function reply(packet: Buffer): Reply {
  const d = answerDnsQuery(packet, OPTIONS);
  assert.ok(d.reply, `no reply: ${d.reason}`);
  return decode(d.reply!);
}

test('dns: a listed name gets the gateway for A, with its id and question echoed', () => {
  const r = reply(query('api.anthropic.com'));
  assert.is(r.id, 0x1234);
  assert.is(r.type, 'response');
  assert.is(r.rcode, 'NOERROR');
  assert.equal(r.questions, [{ name: 'api.anthropic.com', type: 'A', class: 'IN' }]);
  assert.equal(r.answers.map((a) => [a.type, a.name, a.data, a.ttl]), [['A', 'api.anthropic.com', '192.168.64.1', 60]]);
  const d = answerDnsQuery(query('API.Anthropic.COM.'), OPTIONS);
  assert.is(d.rule?.name, 'claude');
  assert.is(d.name, 'api.anthropic.com');
});

test('dns: a wildcard answers names strictly below its suffix only', () => {
  assert.is(reply(query('a.cdn.example.test')).answers?.length, 1);
  assert.is(reply(query('a.b.cdn.example.test')).answers?.length, 1);
  assert.is(reply(query('cdn.example.test')).rcode, 'NXDOMAIN');
  assert.is(reply(query('xcdn.example.test')).rcode, 'NXDOMAIN');
});

test('dns: AAAA and every other type of a listed name is NOERROR with no data (no IPv6 address, no HTTPS record)', () => {
  for (const type of ['AAAA', 'HTTPS', 'TXT', 'MX', 'SRV', 'CAA'] as unknown as dnsPacket.RecordType[]) {
    const r = reply(query('gateway.discord.gg', type));
    assert.is(r.rcode, 'NOERROR', type);
    assert.equal(r.answers, [], type);
  }
});

test('dns: names not listed get NXDOMAIN at once, with no address: look-alikes, parents, children, the root', () => {
  for (const name of ['example.com', 'anthropic.com', 'x.api.anthropic.com', 'api.anthropic.com.evil.test', 'api-anthropic.com',
    'gateway.discord.gg.', 'discord.gg', '.', 'localhost', '1.64.168.192.in-addr.arpa', 'np-123.unlisted.invalid']) {
    if (name === 'gateway.discord.gg.') continue;
    const r = reply(query(name));
    assert.is(r.rcode, 'NXDOMAIN', name);
    assert.equal(r.answers, [], name);
  }
});

test('dns: only class IN, only a standard query, exactly one question', () => {
  assert.is(reply(dnsPacket.encode({ id: 1, type: 'query', questions: [{ name: 'api.anthropic.com', type: 'A', class: 'CH' }] })).rcode, 'REFUSED');
  const twoQuestions = dnsPacket.encode({ id: 2, type: 'query', questions: [{ name: 'api.anthropic.com', type: 'A' }, { name: 'example.com', type: 'A' }] });
  const r2 = answerDnsQuery(twoQuestions, OPTIONS);
  assert.is(r2.rcode, 'FORMERR');
  assert.equal(decode(r2.reply!).answers, []);
  const noQuestion = dnsPacket.encode({ id: 3, type: 'query', questions: [] });
  assert.is(answerDnsQuery(noQuestion, OPTIONS).rcode, 'FORMERR');
  const update = query('api.anthropic.com');
  update.writeUInt16BE(update.readUInt16BE(2) | (5 << 11), 2); // opcode UPDATE
  assert.is(answerDnsQuery(update, OPTIONS).rcode, 'NOTIMP');
  assert.is(decode(answerDnsQuery(update, OPTIONS).reply!).answers?.length, 0);
});

test('dns: a response sent as a query and a datagram shorter than a header get no reply at all', () => {
  const response = dnsPacket.encode({ id: 9, type: 'response', questions: [{ name: 'api.anthropic.com', type: 'A' }] });
  assert.is(answerDnsQuery(response, OPTIONS).reply, undefined);
  for (let n = 0; n < 12; n++) assert.is(answerDnsQuery(Buffer.alloc(n), OPTIONS).reply, undefined);
});

test('dns: a compression pointer that loops (to itself, or forward) is a FORMERR, not a hang', () => {
  const header = Buffer.from([0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  const self = Buffer.concat([header, Buffer.from([0xc0, 12, 0, 1, 0, 1])]);
  const forward = Buffer.concat([header, Buffer.from([0xc0, 14, 0xc0, 12, 0, 1, 0, 1])]);
  for (const packet of [self, forward]) {
    const d = answerDnsQuery(packet, OPTIONS);
    assert.is(d.rcode, 'FORMERR');
    assert.is(decode(d.reply!).id, 7);
  }
});

test('dns: a name longer than 255 bytes, and a label with a dot in it, never yield the gateway wrongly', () => {
  const labels = Array.from({ length: 5 }, () => 'a'.repeat(63));
  const long = Buffer.concat([Buffer.from([0, 8, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels.map((l) => Buffer.concat([Buffer.from([63]), Buffer.from(l)])), Buffer.from([0, 0, 1, 0, 1])]);
  assert.is(answerDnsQuery(long, OPTIONS).rcode, 'FORMERR');
  // One label "api.anthropic" then "com": decodes to the listed text. The answer is still only the
  // gateway (the transparent door checks the TLS name), so this is recorded, not a way out.
  const dotted = Buffer.concat([Buffer.from([0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from([13]), Buffer.from('api.anthropic'), Buffer.from([3]), Buffer.from('com'), Buffer.from([0, 0, 1, 0, 1])]);
  const d = answerDnsQuery(dotted, OPTIONS);
  if (d.reply && d.rcode === 'NOERROR') {
    for (const a of decode(d.reply).answers ?? []) assert.is(a.data, '192.168.64.1');
  }
});

test('dns (property): any bytes at all give at most one reply, never an address other than the gateway, and a reply carries the query id', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
    const packet = Buffer.from(bytes);
    const d = answerDnsQuery(packet, OPTIONS);
    if (!d.reply) return;
    const r = decode(d.reply);
    assert.is(r.id, packet.readUInt16BE(0));
    assert.ok(d.reply.length <= 600);
    for (const a of r.answers ?? []) assert.is(a.data, '192.168.64.1');
  }), { numRuns: 3000 });
});

test('dns (property): mutated real queries (a byte flipped, cut short, many questions) never throw and never answer an unlisted name', () => {
  const names = fc.oneof(fc.constantFrom('api.anthropic.com', 'gateway.discord.gg', 'a.cdn.example.test', 'example.com'), fc.domain());
  fc.assert(fc.property(names, fc.nat(), fc.nat(255), fc.nat(), fc.integer({ min: 1, max: 40 }), (name, at, value, cut, count) => {
    const good = query(name);
    const flipped = Buffer.from(good);
    flipped[at % flipped.length] = value;
    const short = good.subarray(0, cut % (good.length + 1));
    const many = dnsPacket.encode({ id: 5, type: 'query', questions: Array.from({ length: count }, () => ({ name, type: 'A' as const })) });
    for (const packet of [flipped, short, many]) {
      const d = answerDnsQuery(packet, OPTIONS);
      if (d.rcode === 'NOERROR') assert.ok(d.rule, `answered "${d.name}" without a rule`);
      if (d.reply) for (const a of decode(d.reply).answers ?? []) assert.is(a.data, '192.168.64.1');
    }
    const listed = OPTIONS.rules.some((r) => r.host === name || (r.host.startsWith('*.') && name.endsWith(r.host.slice(1))));
    assert.is(answerDnsQuery(good, OPTIONS).rcode, listed ? 'NOERROR' : 'NXDOMAIN');
  }), { numRuns: 2000 });
});

test('dns: a label holding a dot (".") under a listed wildcard is no host name: NXDOMAIN, no answer, the question not echoed garbled', () => {
  // Found by the property below: one label "." before cdn.example.test decodes as "..cdn.example.test",
  // matched the wildcard, and the reply written back carried a stray "A" record for another address.
  const good = query('a.cdn.example.test');
  const bad = Buffer.from(good);
  bad[13] = 0x2e; // the first label's one byte, "a", becomes "."
  const d = answerDnsQuery(bad, OPTIONS);
  assert.is(d.rcode, 'NXDOMAIN');
  assert.is(d.rule, undefined);
  assert.equal(decode(d.reply!).answers ?? [], []);
  assert.equal(decode(d.reply!).questions ?? [], []);
});

test.run();
