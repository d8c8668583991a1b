// One stalled DNS name must not starve all: a DNS server (on loopback) that never answers names
// under a listed wildcard, flooded with lookups, while a hosts-file name and a name DNS does answer
// still resolve at once. getaddrinfo on libuv's four pool threads failed exactly this.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { nameResolver } from '../../src/proxy/name-resolver.ts';
import { hostsFileAddresses } from '../../src/proxy/hosts-file.ts';
import { startProxy } from '../../src/proxy/server.ts';
import { PROXY_DEFAULTS, type ProxyConfig } from '../../src/proxy/config.ts';
import { request, startTlsUpstream, tlsThrough } from './proxy-harness.ts';

// A DNS server for the test's names only: "ok.example.test" A 203.0.113.20; names under
// stall.example.test are never answered; anything else NXDOMAIN. Counts the queries it got.
async function fakeDns(): Promise<{ port: number; queries: string[]; close(): void; socket: UdpSocket }> {
  const socket = createSocket('udp4');
  const queries: string[] = [];
  socket.on('message', (msg, rinfo) => {
    let at = 12;
    const labels: string[] = [];
    while (msg[at]! > 0) { labels.push(msg.subarray(at + 1, at + 1 + msg[at]!).toString('latin1')); at += 1 + msg[at]!; }
    const questionEnd = at + 5;
    const name = labels.join('.').toLowerCase();
    const type = msg.readUInt16BE(at + 1);
    queries.push(`${name} ${type}`);
    if (name.endsWith('.stall.example.test')) return; // the attack: never answered
    const found = name === 'ok.example.test' && type === 1;
    const header = Buffer.alloc(12);
    header.writeUInt16BE(msg.readUInt16BE(0), 0);
    header.writeUInt16BE(name === 'ok.example.test' ? 0x8180 : 0x8183, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(found ? 1 : 0, 6);
    const answer = found ? Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, 20]) : Buffer.alloc(0);
    socket.send(Buffer.concat([header, msg.subarray(12, questionEnd), answer]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  return { port: socket.address().port, queries, socket, close: () => socket.close() };
}

test('hosts file: every address of a name, any case, comments and zone ids dropped', () => {
  const text = '# lab\n203.0.113.5 api.example.test API2.example.test # comment\n2001:db8::5 api.example.test\nfe80::1%lo0 api.example.test\nbogus api.example.test\n';
  assert.equal(hostsFileAddresses(text, 'API.example.test'), [
    { address: '203.0.113.5', family: 4 }, { address: '2001:db8::5', family: 6 }, { address: 'fe80::1', family: 6 }]);
  assert.equal(hostsFileAddresses(text, 'example.test'), []);
});

test('resolver: hosts file first, DNS second, one query per name however many ask, a stalled name times out alone', async () => {
  const dns = await fakeDns();
  const dir = mkdtempSync(join(tmpdir(), 'np-resolver-'));
  const hosts = join(dir, 'hosts');
  writeFileSync(hosts, '203.0.113.7 hosts.example.test\n');
  const resolver = nameResolver({ hostsFile: hosts, servers: [`127.0.0.1:${dns.port}`], timeoutMs: 1500 });
  try {
    const started = Date.now();
    const stalled = Array.from({ length: 60 }, (_, i) => resolver.lookup(`n${i % 20}.stall.example.test`).then(() => 'resolved', (e: NodeJS.ErrnoException) => e.code));
    const [fromHosts, fromDns] = await Promise.all([resolver.lookup('hosts.example.test'), resolver.lookup('ok.example.test')]);
    const honestMs = Date.now() - started;
    assert.equal(fromHosts, [{ address: '203.0.113.7', family: 4 }]);
    assert.equal(fromDns, [{ address: '203.0.113.20', family: 4 }]);
    assert.ok(honestMs < 500, `honest names took ${honestMs} ms while 60 lookups stalled`);
    const outcomes = await Promise.all(stalled);
    assert.ok(outcomes.every((o) => o === 'ETIMEOUT' || o === 'ETIMEDOUT' || o === 'ECONNREFUSED' || o === 'ECANCELLED'), outcomes.join(','));
    assert.ok(Date.now() - started < 2500, 'each stalled lookup ended within its budget');
    // 60 asks for 20 names: one A and one AAAA query per name per try, never one per ask.
    const stallQueries = dns.queries.filter((q) => q.includes('stall'));
    assert.ok(stallQueries.length <= 20 * 2 * 2, `${stallQueries.length} queries`);
    assert.ok(!dns.queries.some((q) => q.startsWith('hosts.example.test')), 'a hosts-file name never reaches DNS');
  } finally {
    resolver.close();
    dns.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('proxy: CONNECTs flooding a wildcard whose DNS never answers leave other names working at once', async () => {
  const dns = await fakeDns();
  const up = await startTlsUpstream(['ok.example.test', 'hosts.example.test']);
  const dir = mkdtempSync(join(tmpdir(), 'np-resolver-'));
  const hosts = join(dir, 'hosts');
  writeFileSync(hosts, '203.0.113.7 hosts.example.test\n');
  const config: ProxyConfig = {
    format: 1, vm: 'unit', listen: { host: '127.0.0.1', port: 0 }, allowClients: ['127.0.0.0/8'],
    rules: [{ name: 'stall', host: '*.stall.example.test', port: 443 }, { name: 'ok', host: 'ok.example.test', port: 443 }, { name: 'hosts', host: 'hosts.example.test', port: 443 }],
    maxConnections: 200, denyNetworks: [], auditLog: join(dir, 'audit.jsonl'), auditRotateBytes: PROXY_DEFAULTS.auditRotateBytes,
    timeouts: { ...PROXY_DEFAULTS.timeouts, connectMs: 2000 }, maxHeaderBytes: 8192, maxHelloBytes: 65536,
  };
  const proxy = await startProxy(config, {
    hostsFile: hosts, dnsServers: [`127.0.0.1:${dns.port}`],
    connect: () => connect({ host: '127.0.0.1', port: up.port, allowHalfOpen: true }),
  });
  try {
    const flood = Array.from({ length: 80 }, (_, i) => request(proxy.address.port, `CONNECT x${i}.stall.example.test:443 HTTP/1.1\r\n\r\n`));
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    const [viaHosts, viaDns] = await Promise.all([
      tlsThrough(proxy.address.port, 'hosts.example.test:443', 'hosts.example.test'),
      tlsThrough(proxy.address.port, 'ok.example.test:443', 'ok.example.test'),
    ]);
    const ms = Date.now() - started;
    assert.ok(viaHosts.tls, `hosts-file name: ${viaHosts.answer.status} ${viaHosts.answer.body}`);
    assert.ok(viaDns.tls, `DNS name: ${viaDns.answer.status} ${viaDns.answer.body}`);
    assert.ok(ms < 1000, `honest names took ${ms} ms during the flood`);
    viaHosts.tls!.destroy();
    viaDns.tls!.destroy();
    const answers = await Promise.all(flood);
    const statuses = answers.map((a) => a.status);
    // The wildcard's own lookups: a few in flight (502 when they time out), the rest 503 at once.
    assert.ok(statuses.every((s) => s === 502 || s === 503), statuses.join(','));
    assert.ok(statuses.filter((s) => s === 502).length <= 8, 'at most 8 lookups per rule at once');
  } finally {
    await proxy.close();
    await up.close();
    dns.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
