// An honest VM client's stream to one path (a socat bridge, or the egress proxy then TLS to the
// far end), and the echo check every soak client runs over it: each byte written must come back
// equal and in order. Dependency-free, run inside the lab's VM namespace by clients.mjs and agent.mjs.
//
// The far ends are the lab's echo services (test/lab/servers/tcp-server.mjs): a banner line, then
// every byte echoed. So the check needs no framing: the client keeps what it sent and not yet
// seen back, and compares each echoed byte with it. A connection ends in exactly one outcome:
//   intact   — we closed it after every byte sent had come back equal;
//   failed   — it ended visibly before that (an error, a refused CONNECT, EOF with bytes owed);
//   corrupt  — a byte came back different (or a different service answered: wrong banner);
//   stalled  — bytes were owed and nothing came for `stallMs` while the connection stayed open.
// Only `intact` and `failed` are acceptable: the other two are the silent failures the soak hunts.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

const cas = new Map();
// The lab CA's PEM, read once per path.
function caPem(path) {
  if (!cas.has(path)) cas.set(path, readFileSync(path));
  return cas.get(path);
}

// Reads from `socket` until `delimiter`; resolves with [head, rest]. Rejects on error/EOF/timeout.
function readUntil(socket, delimiter, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => done(new Error(`${what}: no answer in ${timeoutMs} ms`)), timeoutMs);
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      const at = buf.indexOf(delimiter);
      if (at >= 0) done(undefined, [buf.subarray(0, at).toString('latin1'), buf.subarray(at + delimiter.length)]);
      else if (buf.length > 16384) done(new Error(`${what}: answer too long`));
    };
    const onError = (e) => done(new Error(`${what}: ${e.code ?? e.message}`));
    const onEnd = () => done(new Error(`${what}: closed by the far side`));
    socket.on('data', onData);
    socket.once('error', onError);
    socket.once('end', onEnd);
    function done(error, value) {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('end', onEnd);
      socket.pause();
      if (error) reject(error);
      else resolve(value);
    }
  });
}

// Opens the path to `target` and reads the far end's banner. Resolves with
// { socket, banner, rest, tunnel } where tunnel says the proxy answered 200 (an allowed
// connection the audit log must show); rejects with an Error whose `tunnel` says the same.
export async function openPath(target, gateway, timeoutMs = 5000) {
  const raw = net.connect({ host: gateway, port: target.port });
  raw.setNoDelay(true);
  raw.on('error', () => {});
  let tunnel = false;
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`connect: no answer in ${timeoutMs} ms`)), timeoutMs);
      raw.once('connect', () => (clearTimeout(timer), resolve()));
      raw.once('error', (e) => (clearTimeout(timer), reject(new Error(`connect: ${e.code ?? e.message}`))));
    });
    if (target.kind === 'tcp') {
      const [banner, rest] = await readUntil(raw, '\n', timeoutMs, 'banner');
      return { socket: raw, banner, rest, tunnel };
    }
    raw.write(`CONNECT ${target.name}:443 HTTP/1.1\r\nHost: ${target.name}:443\r\n\r\n`);
    const [head, early] = await readUntil(raw, '\r\n\r\n', timeoutMs, 'CONNECT');
    const status = head.split('\r\n')[0] ?? '';
    if (!/^HTTP\/1\.[01] 200 /.test(status)) throw new Error(`CONNECT answered "${status}"`);
    tunnel = true;
    if (early.length > 0) throw new Error('bytes before the TLS handshake');
    const secure = tls.connect({ socket: raw, servername: target.name, ca: caPem(target.ca) });
    secure.on('error', () => {});
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`TLS: no handshake in ${timeoutMs} ms`)), timeoutMs);
      secure.once('secureConnect', () => (clearTimeout(timer), resolve()));
      secure.once('error', (e) => (clearTimeout(timer), reject(new Error(`TLS: ${e.code ?? e.message}`))));
      secure.once('close', () => (clearTimeout(timer), reject(new Error('TLS: closed during the handshake'))));
    });
    const [banner, rest] = await readUntil(secure, '\n', timeoutMs, 'banner');
    return { socket: secure, banner, rest, tunnel };
  } catch (error) {
    raw.destroy();
    error.tunnel = tunnel;
    throw error;
  }
}

/**
 * One checked connection: `open` it, then let `drive(send, drained)` write chunks (send(bytes))
 * and wait until everything sent came back (await drained()). Resolves with the connection's
 * record; never rejects.
 */
export async function checkedSession(target, gateway, { stallMs = 15000, openTimeoutMs = 5000 } = {}, drive) {
  const start = Date.now();
  const rec = { target: target.id, start, end: 0, sent: 0, echoed: 0, outcome: 'failed', tunnel: false };
  let opened;
  try {
    opened = await openPath(target, gateway, openTimeoutMs);
  } catch (error) {
    rec.tunnel = error.tunnel === true;
    rec.error = error.message;
    rec.end = Date.now();
    return rec;
  }
  rec.tunnel = opened.tunnel;
  rec.banner = opened.banner;
  if (!target.banners.includes(opened.banner)) {
    opened.socket.destroy();
    rec.outcome = 'corrupt';
    rec.error = `banner "${opened.banner}" is not one of ${target.banners.join(', ')}`;
    rec.end = Date.now();
    return rec;
  }
  const socket = opened.socket;
  const owed = []; // Buffers sent, not yet fully echoed
  let ended; // set once: { outcome, error }
  let waiter; // resolve of the current drained() wait
  let lastData = Date.now();
  const finish = (outcome, error) => {
    if (ended) return;
    ended = { outcome, ...(error ? { error } : {}) };
    socket.destroy();
    waiter?.();
  };
  const take = (chunk) => {
    lastData = Date.now();
    let at = 0;
    while (at < chunk.length) {
      const head = owed[0];
      if (!head) return finish('corrupt', `${chunk.length - at} bytes came back that were never sent (after ${rec.echoed})`);
      const n = Math.min(head.length, chunk.length - at);
      if (Buffer.compare(head.subarray(0, n), chunk.subarray(at, at + n)) !== 0) return finish('corrupt', `a byte differs within bytes ${rec.echoed}..${rec.echoed + n}`);
      rec.echoed += n;
      at += n;
      if (n === head.length) owed.shift();
      else owed[0] = head.subarray(n);
    }
    if (owed.length === 0) waiter?.();
  };
  socket.on('data', take);
  socket.on('error', (e) => finish('failed', `error ${e.code ?? e.message}`));
  socket.on('end', () => finish('failed', owed.length ? `closed by the far side with ${owed.reduce((s, b) => s + b.length, 0)} bytes owed` : 'closed by the far side'));
  socket.on('close', () => finish('failed', 'closed'));
  if (opened.rest.length) take(opened.rest);
  socket.resume();
  const stallTimer = setInterval(() => {
    if (owed.length > 0 && Date.now() - lastData > stallMs) finish('stalled', `nothing came back for ${stallMs} ms with bytes owed`);
  }, 500);
  const send = (n) => {
    if (ended) return false;
    const bytes = randomBytes(n);
    owed.push(bytes);
    rec.sent += n;
    socket.write(bytes);
    return true;
  };
  const drained = () =>
    new Promise((resolve) => {
      if (ended || owed.length === 0) return resolve(!ended);
      waiter = () => {
        waiter = undefined;
        resolve(!ended);
      };
    });
  try {
    await drive(send, drained, () => ended !== undefined);
    if (!ended && owed.length === 0) {
      ended = { outcome: 'intact' };
      socket.destroy();
    } else if (!ended) {
      finish('failed', 'given up with bytes owed');
    }
  } finally {
    clearInterval(stallTimer);
  }
  rec.outcome = ended.outcome;
  if (ended.error) rec.error = ended.error;
  rec.end = Date.now();
  return rec;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
