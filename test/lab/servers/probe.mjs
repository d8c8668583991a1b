// One-shot probes run inside a lab namespace; prints one JSON result line and exits 0 (the result,
// not the exit code, says what happened). Refuses any target outside the lab ranges.
//   node probe.mjs '{"kind":"tcp","host":"198.51.100.10","port":80,"timeoutMs":1000}'
//   node probe.mjs '{"kind":"tls","host":"203.0.113.10","port":443,"servername":"web.lab.test","ca":"<pem>"}'
//   node probe.mjs '{"kind":"dns","server":"203.0.113.53","name":"vault.lab.test","type":"A"}'
//   node probe.mjs '{"kind":"udp","host":"198.51.100.10","port":9,"payload":"x"}'  (ok = a reply came)

import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';

const allowed = new net.BlockList();
for (const [n, p] of [['192.0.2.0', 24], ['198.51.100.0', 24], ['203.0.113.0', 24], ['198.18.0.0', 15], ['192.168.64.0', 24]]) allowed.addSubnet(n, p, 'ipv4');
allowed.addSubnet('2001:db8::', 32, 'ipv6');

const req = JSON.parse(process.argv[2] ?? '{}');
const timeoutMs = req.timeoutMs ?? 1500;
const started = Date.now();

function done(result) {
  process.stdout.write(`${JSON.stringify({ ...result, ms: Date.now() - started })}\n`);
  process.exit(0);
}

function checkTarget(host) {
  const family = net.isIP(host);
  if (!family || !allowed.check(host, family === 4 ? 'ipv4' : 'ipv6')) done({ ok: false, error: 'ENOTLAB', message: `target ${host} is not a lab address` });
}

function streamProbe(connect) {
  let banner = '';
  const socket = connect();
  const timer = setTimeout(() => {
    socket.destroy();
    done({ ok: false, error: 'ETIMEDOUT' });
  }, timeoutMs);
  socket.on('error', (error) => {
    clearTimeout(timer);
    done({ ok: false, error: error.code ?? 'ERROR', message: error.message });
  });
  return { socket, timer, banner: () => banner, addBanner: (s) => (banner += s) };
}

if (req.kind === 'tcp') {
  checkTarget(req.host);
  const p = streamProbe(() => net.connect({ host: req.host, port: req.port }));
  p.socket.on('connect', () => {
    clearTimeout(p.timer);
    afterBanner(p.socket, () => done({ ok: true, banner: p.banner(), local: p.socket.localAddress }), p.addBanner);
  });
} else if (req.kind === 'tls') {
  checkTarget(req.host);
  const p = streamProbe(() =>
    tls.connect({ host: req.host, port: req.port, servername: req.servername, ca: req.ca, rejectUnauthorized: false }),
  );
  p.socket.on('secureConnect', () => {
    clearTimeout(p.timer);
    const cert = p.socket.getPeerCertificate();
    const spki = cert?.pubkey ? createHash('sha256').update(cert.pubkey).digest('base64') : null;
    let identityError = null;
    if (p.socket.authorized) {
      const err = tls.checkServerIdentity(req.servername ?? req.host, cert);
      identityError = err ? err.message : null;
    }
    const result = {
      ok: true,
      authorized: p.socket.authorized && identityError === null,
      authorizationError: p.socket.authorizationError ?? identityError,
      spkiSha256: spki,
      subjectAltName: cert?.subjectaltname ?? null,
    };
    // Waiting for the banner also means the server has logged the handshake.
    afterBanner(p.socket, () => done({ ...result, banner: p.banner() }), p.addBanner);
  });
} else if (req.kind === 'dns') {
  checkTarget(req.server);
  const type = req.type === 'AAAA' ? 28 : 1;
  const id = Math.floor(Math.random() * 65536);
  const name = Buffer.concat([...req.name.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2);
  header.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(1, 2);
  const socket = dgram.createSocket(net.isIPv6(req.server) ? 'udp6' : 'udp4');
  const timer = setTimeout(() => done({ ok: false, error: 'ETIMEDOUT' }), timeoutMs);
  socket.on('error', (error) => done({ ok: false, error: error.code ?? 'ERROR', message: error.message }));
  socket.on('message', (msg) => {
    if (msg.readUInt16BE(0) !== id) return;
    clearTimeout(timer);
    const rcode = msg.readUInt16BE(2) & 0xf;
    const count = msg.readUInt16BE(6);
    let at = 12 + name.length + 4;
    const answers = [];
    for (let i = 0; i < count; i++) {
      // The owner name: a compression pointer (the lab's resolver) or labels (dns-packet writes them).
      while (at < msg.length && msg[at] !== 0 && (msg[at] & 0xc0) !== 0xc0) at += msg[at] + 1;
      at += at < msg.length && msg[at] === 0 ? 1 : 2;
      const rtype = msg.readUInt16BE(at);
      const len = msg.readUInt16BE(at + 8);
      const data = msg.subarray(at + 10, at + 10 + len);
      at += 10 + len;
      if (rtype === 1) answers.push([...data].join('.'));
      if (rtype === 28) answers.push(hex6(data));
    }
    done({ ok: true, rcode, answers });
  });
  socket.send(Buffer.concat([header, name, tail]), req.port ?? 53, req.server);
} else if (req.kind === 'udp') {
  checkTarget(req.host);
  const socket = dgram.createSocket(net.isIPv6(req.host) ? 'udp6' : 'udp4');
  socket.on('error', (error) => done({ ok: false, error: error.code ?? 'ERROR', message: error.message }));
  // ok means a reply came back (lab UDP services echo); a silent drop reads as ETIMEDOUT.
  const timer = setTimeout(() => done({ ok: false, error: 'ETIMEDOUT' }), timeoutMs);
  socket.on('message', (msg) => {
    clearTimeout(timer);
    done({ ok: true, reply: msg.toString('utf8') });
  });
  // Connected, so an ICMP port/admin-unreachable surfaces as ECONNREFUSED instead of a timeout.
  socket.connect(req.port, req.host, () => {
    socket.send(Buffer.from(req.payload ?? 'lab'), (error) => {
      if (error) done({ ok: false, error: error.code ?? 'ERROR', message: error.message });
    });
  });
} else {
  done({ ok: false, error: 'EUSAGE', message: `unknown probe kind ${req.kind}` });
}

// Reads the first chunk the server sends (lab services send a banner at once), waiting at most
// bannerWaitMs (default 300), then closes the socket and calls back.
function afterBanner(socket, then, add) {
  const finish = () => {
    clearTimeout(wait);
    socket.destroy();
    then();
  };
  const wait = setTimeout(finish, req.bannerWaitMs ?? 300);
  socket.once('data', (d) => {
    add(d.toString('utf8'));
    finish();
  });
  socket.once('end', finish);
}

function hex6(data) {
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push(data.readUInt16BE(i).toString(16));
  return groups.join(':');
}
