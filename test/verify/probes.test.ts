// Unit tests of the probes against 127.0.0.1 listeners and a local TLS server (node-forge certs).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import dgram from 'node:dgram';
import tls from 'node:tls';
import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { TcpScanner } from '../../src/verify/inside/tcp-scanner.ts';
import { gatewaySweep } from '../../src/verify/inside/gateway-sweep.ts';
import { bridgeOpen } from '../../src/verify/inside/bridge-open.ts';
import { mountsProbe } from '../../src/verify/inside/mounts.ts';
import { dnsProbe } from '../../src/verify/inside/dns.ts';
import { systemLookup } from '../../src/verify/inside/system-lookup.ts';
import { directTargets } from '../../src/verify/inside/direct-targets.ts';
import { main } from '../../src/cli/main.ts';
import { parseSs, parseLsof } from '../../src/host/listeners.ts';
import { normalize, diffRules } from '../../src/verify/host/nft-table.ts';
import { parseEndpoints } from '../../src/verify/parse-endpoints.ts';
import { formatReport } from '../../src/verify/format-report.ts';
import { splitPrefix } from '../../src/verify/host/run-inside.ts';
import { listen } from '../helpers/listen.ts';

const t = suite('verify: probes (loopback)');

t('scanner tells open from closed and keeps under its cap', async () => {
  const server = net.createServer((s) => s.destroy());
  const port = await listen(server);
  const scanner = new TcpScanner(4, 500);
  const open = await scanner.probe('127.0.0.1', port);
  server.close();
  const closed = await scanner.probe('127.0.0.1', port);
  assert.is(open.state, 'open');
  assert.is(closed.state, 'closed');
  assert.is(closed.code, 'ECONNREFUSED');
  assert.ok(scanner.stats.maxOpen <= 4);
  scanner.close();
});

// A connect that completed while the event loop was held past the timeout (worker threads
// starting, a loaded machine) is open, not "filtered": a false timeout on a path that should be
// blocked would be a false pass (src/verify/inside/deadline.ts).
t('scanner: an answer that came while the loop was blocked still beats its timeout', async () => {
  const server = net.createServer((s) => s.destroy());
  const port = await listen(server);
  const scanner = new TcpScanner(4, 50);
  const result = scanner.probe('127.0.0.1', port);
  const until = performance.now() + 300;
  while (performance.now() < until) {
    // Held: the kernel completes the handshake meanwhile, and the 50 ms timeout passes.
  }
  const r = await result;
  server.close();
  scanner.close();
  assert.is(r.state, 'open');
});

t('deadline: an answer that arrived while the loop was blocked wins over the timeout', async () => {
  const { deadline } = await import('../../src/verify/inside/deadline.ts');
  const { spawn } = await import('node:child_process');
  // The server is another process, so it answers while this one is held.
  const server = spawn(process.execPath, ['-e', "const s = require('net').createServer((c) => setTimeout(() => c.end('x'), 50)); s.listen(0, '127.0.0.1', () => console.log(s.address().port));"], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const port = await new Promise<number>((resolve) => server.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise((resolve) => socket.once('connect', resolve));
    const verdict = await new Promise<string>((resolve) => {
      const timer = deadline(() => resolve('timeout'), 100);
      socket.once('data', () => {
        clearTimeout(timer);
        resolve('answer');
      });
      const until = performance.now() + 400;
      while (performance.now() < until) {
        // Held past the deadline; the answer comes at ~50 ms.
      }
    });
    socket.destroy();
    assert.is(verdict, 'answer');
  } finally {
    server.kill();
  }
});

t('gateway sweep over a range names the open port and skips bridge ports', async () => {
  const server = net.createServer((s) => s.destroy());
  const port = await listen(server);
  const bridge = net.createServer((s) => s.destroy());
  const bridgePort = await listen(bridge);
  const from = Math.max(1, Math.min(port, bridgePort) - 50);
  const to = Math.min(65535, Math.max(port, bridgePort) + 50);
  const scanner = new TcpScanner(16, 500);
  const r = await gatewaySweep({ gateway: '127.0.0.1', gatewaySweep: { from: from as 1, to: to as 65535, except: [bridgePort] } }, scanner);
  server.close();
  bridge.close();
  scanner.close();
  assert.is(r.results[0]!.ok, false);
  assert.ok(r.results.some((x) => x.detail === `gateway port ${port} is OPEN — a host service is reachable from the VM`));
  assert.not.ok(r.results.some((x) => x.probe.endsWith(`:${bridgePort}`)));
  assert.ok(scanner.stats.maxOpen <= 16);
});

function makeCerts(name: string): { caPem: string; certPem: string; keyPem: string; pin: string } {
  const keys = forge.pki.rsa.generateKeyPair(1024);
  const ca = forge.pki.createCertificate();
  ca.publicKey = keys.publicKey;
  ca.serialNumber = '01';
  ca.validity.notBefore = new Date(Date.now() - 86_400_000);
  ca.validity.notAfter = new Date(Date.now() + 86_400_000);
  ca.setSubject([{ name: 'commonName', value: 'test CA' }]);
  ca.setIssuer(ca.subject.attributes);
  ca.setExtensions([{ name: 'basicConstraints', cA: true }]);
  ca.sign(keys.privateKey, forge.md.sha256.create());
  const leaf = forge.pki.createCertificate();
  leaf.publicKey = keys.publicKey;
  leaf.serialNumber = '02';
  leaf.validity = ca.validity;
  leaf.setSubject([{ name: 'commonName', value: name }]);
  leaf.setIssuer(ca.subject.attributes);
  leaf.setExtensions([{ name: 'subjectAltName', altNames: [{ type: 2, value: name }] }]);
  leaf.sign(keys.privateKey, forge.md.sha256.create());
  const spki = forge.asn1.toDer(forge.pki.publicKeyToAsn1(keys.publicKey)).getBytes();
  const pin = `sha256/${createHash('sha256').update(Buffer.from(spki, 'binary')).digest('base64')}`;
  return { caPem: forge.pki.certificateToPem(ca), certPem: forge.pki.certificateToPem(leaf), keyPem: forge.pki.privateKeyToPem(keys.privateKey), pin };
}

t('TLS bridge: name and CA, pin, and a wrong name', async () => {
  const c = makeCerts('vault.lab.test');
  const server = tls.createServer({ cert: c.certPem, key: c.keyPem }, (s) => s.end());
  const port = await listen(server);
  const spec = (extra: object) => ({ name: 'vault', listen: port, tls: true, serverName: 'vault.lab.test', target: { host: 'vault.lab.test', port: 443, kind: 'dns' as const }, ...extra });
  const [byCa] = await bridgeOpen([spec({})], { gateway: '127.0.0.1', timeoutMs: 2000, caPem: c.caPem });
  const [untrusted] = await bridgeOpen([spec({})], { gateway: '127.0.0.1', timeoutMs: 2000 });
  const [pinned] = await bridgeOpen([spec({ pin: c.pin })], { gateway: '127.0.0.1', timeoutMs: 2000 });
  const [badPin] = await bridgeOpen([spec({ pin: 'sha256/AAAA' })], { gateway: '127.0.0.1', timeoutMs: 2000 });
  const [wrongName] = await bridgeOpen([spec({ serverName: 'other.lab.test' })], { gateway: '127.0.0.1', timeoutMs: 2000, caPem: c.caPem });
  server.close();
  assert.is(byCa!.ok, true, byCa!.detail);
  assert.is(untrusted!.ok, false);
  assert.is(pinned!.ok, true, pinned!.detail);
  assert.is(badPin!.ok, false);
  assert.match(wrongName!.detail ?? '', /does not match "other.lab.test"/);
});

t('mounts: rw accepts a write and cleans up; undeclared entries are named', async () => {
  const root = mkdtempSync(join(tmpdir(), 'npv-mounts-'));
  mkdirSync(join(root, 'data'));
  mkdirSync(join(root, 'extra'));
  try {
    const rows = await mountsProbe(root, [{ name: 'data', mode: 'rw' }, { name: 'gone', mode: 'ro' }]);
    assert.is(rows.find((r) => r.probe.endsWith('/data'))!.ok, true);
    assert.equal(readdirSync(join(root, 'data')), []);
    assert.match(rows.find((r) => r.probe.endsWith('/gone'))!.detail ?? '', /share "gone" is not mounted/);
    assert.match(rows.find((r) => r.probe.endsWith('/extra'))!.detail ?? '', /"extra" is shared into the VM but the policy does not declare it/);
  } finally {
    rmSync(root, { recursive: true });
  }
});

t('mounts: a ro share reachable through a rw one (same file system, or nested) is a failure row; the owner\'s file stays', async () => {
  const root = mkdtempSync(join(tmpdir(), 'npv-cross-'));
  try {
    // Plain folders on one file system: a hard link and a rename across them work — exactly the hole.
    mkdirSync(join(root, 'data'));
    mkdirSync(join(root, 'scripts'));
    writeFileSync(join(root, 'scripts', 'start.sh'), 'echo owner\n');
    const rows = await mountsProbe(root, [{ name: 'data', mode: 'rw' }, { name: 'scripts', mode: 'ro' }]);
    const cross = rows.find((r) => r.probe === 'ro "scripts" through rw "data"')!;
    assert.is(cross.ok, false);
    assert.match(cross.detail!, /the ro share "scripts" can be changed through the rw share "data" \(hard link, rename, symlink write\)/);
    assert.equal(readFileSync(join(root, 'scripts', 'start.sh'), 'utf8'), 'echo owner\n', 'the renamed file is put back');
    assert.equal(readdirSync(join(root, 'data')), [], 'every probe file is removed');
    // Nested: the rw share is a folder inside the ro one on the host (the VM sees both).
    const nested = mkdtempSync(join(tmpdir(), 'npv-nest-'));
    mkdirSync(join(nested, 'ro-host', 'rw-host'), { recursive: true });
    symlinkSync(join(nested, 'ro-host'), join(nested, 'scripts'));
    symlinkSync(join(nested, 'ro-host', 'rw-host'), join(nested, 'data'));
    const nestedRows = await mountsProbe(nested, [{ name: 'data', mode: 'rw' }, { name: 'scripts', mode: 'ro' }]);
    assert.match(nestedRows.find((r) => r.probe.startsWith('ro "scripts"'))!.detail!, /a file written in the rw share/);
    rmSync(nested, { recursive: true });
  } finally {
    rmSync(root, { recursive: true });
  }
});

t('dns: an answering UDP server and a resolving name fail; silence passes', async () => {
  const dgram = await import('node:dgram');
  const server = dgram.createSocket('udp4');
  server.on('message', (msg, rinfo) => server.send(msg, rinfo.port, rinfo.address));
  await new Promise<void>((r) => server.bind(0, '127.0.0.1', () => r()));
  const port = server.address().port;
  const rows = await dnsProbe({ servers: ['127.0.0.1'], name: 'web.lab.test', timeoutMs: 300, port, lookup: async () => ['203.0.113.10'] });
  server.close();
  assert.is(rows[0]!.ok, false);
  assert.is(rows[1]!.ok, false);
  const quiet = await dnsProbe({ servers: ['127.0.0.1'], name: 'x.lab.test', timeoutMs: 300, port, lookup: async () => { throw Object.assign(new Error('nx'), { code: 'ENOTFOUND' }); } });
  assert.ok(quiet.every((r) => r.ok));
});

t('dns: the system resolver is asked while the UDP queries wait, not after them (one timeout per group, not two)', async () => {
  const silent = dgram.createSocket('udp4');
  const port = await new Promise<number>((r) => silent.bind(0, '127.0.0.1', () => r(silent.address().port)));
  const started = performance.now();
  let askedAfter = -1;
  try {
    const rows = await dnsProbe({
      servers: ['127.0.0.1'],
      name: 'web.lab.test',
      timeoutMs: 1000,
      port,
      lookup: () => {
        askedAfter = performance.now() - started;
        return new Promise<string[]>(() => undefined); // a resolver that never answers
      },
    });
    assert.equal(rows.map((r) => r.ok), [true, true]);
    assert.ok(askedAfter >= 0 && askedAfter < 500, `the system resolver was asked ${Math.round(askedAfter)} ms in, with the UDP query still waiting`);
  } finally {
    silent.close();
  }
});

t('dns: a system resolver that could not be asked is no pass (not "does not resolve")', async () => {
  const [row] = await dnsProbe({ servers: [], name: 'web.lab.test', timeoutMs: 300, lookup: async () => { throw Object.assign(new Error('the lookup could not start: spawn EAGAIN'), { code: 'ENOTRUN' }); } });
  assert.is(row!.ok, false);
  assert.is(row!.measured, 'NOT RUN');
  assert.match(row!.detail!, /could not be asked .*unknown/);
});

t('system lookup: asked in a child, answers from the hosts file (localhost: no DNS query)', async () => {
  const addresses = await systemLookup('localhost', 5000);
  assert.ok(addresses.includes('127.0.0.1') || addresses.includes('::1'), addresses.join(','));
});

t('direct: a bridge target whose name no one resolved is reported not tried, never blocked', async () => {
  const scanner = new TcpScanner(4, 300);
  try {
    let asked = '';
    const rows = await directTargets([{ bridge: 'vault', host: 'vault.lab.test', port: 443 }], {}, scanner, 300, async (name) => ((asked = name), []));
    assert.is(asked, 'vault.lab.test');
    assert.is(rows.length, 1);
    assert.is(rows[0]!.ok, false);
    assert.match(rows[0]!.detail!, /was not tried/);
  } finally {
    scanner.close();
  }
});

t('--dns-servers takes addresses only: a name would be looked up in the probe itself (exit 64, nothing probed)', async () => {
  let out = '';
  const io = { stdout: { write: (x: string) => (out += x) }, stderr: { write: (x: string) => (out += x) }, env: {} };
  const manifest = join(import.meta.dirname, '../fixtures/valid/minimal/verify.json');
  const code = await main(['node', 'nanopolicy', 'verify', '--inside', manifest, '--dns-servers', '203.0.113.53,resolver.lab.test'], io);
  assert.is(code, 64, out);
  assert.match(out, '--dns-servers takes resolver addresses, not "resolver.lab.test".');
});

t('dns: a query lost on the way is sent again within the wait, so one lost datagram is no false pass', async () => {
  // A resolver that drops the first datagram it gets and answers the next.
  const server = dgram.createSocket('udp4');
  let seen = 0;
  server.on('message', (msg, from) => {
    if (++seen > 1) server.send(msg, from.port, from.address);
  });
  const port = await new Promise<number>((r) => server.bind(0, '127.0.0.1', () => r(server.address().port)));
  try {
    const [row] = await dnsProbe({ servers: ['127.0.0.1'], name: 'web.lab.test', timeoutMs: 400, port, lookup: async () => [] });
    assert.is(row!.measured, 'ANSWERED', `${seen} datagram(s) seen`);
    assert.is(row!.ok, false);
    assert.is(seen, 2);
  } finally {
    server.close();
  }
});

t('host parsers: ss, lsof, nft normalize/diff, endpoints, exec prefix', () => {
  const ss = parseSs('LISTEN 0 5 192.168.64.1:18443 0.0.0.0:* users:(("socat",pid=123,fd=5))\nLISTEN 0 5 *:22 *:* users:(("sshd",pid=9,fd=3))\n');
  assert.equal(ss, [{ address: '192.168.64.1', port: 18443, pid: 123, command: 'socat' }, { address: '*', port: 22, pid: 9, command: 'sshd' }]);
  assert.equal(parseLsof('p77\ncsocat\nn192.168.64.1:18123\n'), [{ address: '192.168.64.1', port: 18123, pid: 77, command: 'socat' }]);
  const a = normalize('table inet t {\n\tchain input {\n\t\tip saddr 1.2.3.4 accept # handle 4\n\t}\n}\n');
  assert.equal(a, ['input: chain input {', 'input: ip saddr 1.2.3.4 accept']);
  assert.equal(diffRules(a, [...a, 'forward: accept']), { extra: ['forward: accept'], missing: [] });
  assert.equal(parseEndpoints('203.0.113.10:443,[2001:db8::1]:53'), [{ host: '203.0.113.10', port: 443 }, { host: '2001:db8::1', port: 53 }]);
  assert.throws(() => parseEndpoints('example.com:80'), /not ADDRESS:PORT/);
  assert.equal(splitPrefix(`ip netns exec 'lab vm'`), ['ip', 'netns', 'exec', 'lab vm']);
});

t('report: failures named, summary counts', () => {
  const text = formatReport([
    { group: 'gateway', probe: '192.168.64.1:22', expected: 'closed', measured: 'open', ok: false, ms: 0, detail: "gateway port 22 is OPEN — the host's SSH is reachable from the VM" },
    { group: 'egress', probe: '203.0.113.10:443', expected: 'blocked', measured: 'refused', ok: true, ms: 3 },
  ]);
  assert.match(text, /gateway port 22 is OPEN — the host's SSH is reachable from the VM/);
  assert.match(text, /1 wrong, 1 correct\n$/);
});

t.run();
