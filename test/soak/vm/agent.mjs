// The soak's hands inside the lab's VM namespace, driven by the chaos loop over stdin: one JSON
// command per line, one JSON answer per line on stdout with the same `id`. A long-lived process,
// so a probe costs a connection, not a `node` start.
//   {id, cmd: 'probe', target}                      one checked echo through a path (stream.mjs)
//   {id, cmd: 'sweep', host, from, to, concurrency}  TCP connect to every port; which answered
//   {id, cmd: 'canary-start', targets: [[host, port]], everyMs} / {id, cmd: 'canary-stop'}
//                                                     keep trying what must stay unreachable
//   {id, cmd: 'flood', proxyPort, ms, concurrency}   CONNECTs to unlisted names: refusals to log
//   {id, cmd: 'stall-start', proxyPort, suffix, perSecond} / {id, cmd: 'stall-stop'}
//                                                     CONNECTs to names under a listed wildcard
//                                                     whose DNS does not answer
//   node agent.mjs '<json>'   { gateway }

import net from 'node:net';
import { createInterface } from 'node:readline';
import { checkedSession, sleep } from './stream.mjs';

const { gateway } = JSON.parse(process.argv[2] ?? '{}');
const reply = (id, body) => process.stdout.write(`${JSON.stringify({ id, ...body })}\n`);

// A TCP connect attempt: 'open', 'refused', 'timeout' or the error code.
function tryConnect(host, port, timeoutMs) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    s.once('connect', () => done('open'));
    s.once('error', (e) => done(e.code === 'ECONNREFUSED' ? 'refused' : e.code ?? 'error'));
    function done(result) {
      clearTimeout(timer);
      s.destroy();
      resolve(result);
    }
  });
}

// Every port from..to on `host`, `concurrency` at a time; the open ones, and counts per answer.
async function sweep({ host, from, to, concurrency = 256, timeoutMs = 1500 }) {
  const started = Date.now();
  const open = [];
  const counts = {};
  let next = from;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let port = next++; port <= to; port = next++) {
        const r = await tryConnect(host, port, timeoutMs);
        counts[r] = (counts[r] ?? 0) + 1;
        if (r === 'open') open.push(port);
      }
    }),
  );
  return { open: open.sort((a, b) => a - b), counts, ms: Date.now() - started };
}

// One CONNECT and its status line ('403', '502', … or the error).
// `open`, if given, holds the socket while it waits (so a stopped attack can close what it left).
function connectStatus(proxyPort, name, timeoutMs, open) {
  return new Promise((resolve) => {
    const s = net.connect({ host: gateway, port: proxyPort });
    open?.add(s);
    let buf = '';
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    s.once('connect', () => s.write(`CONNECT ${name}:443 HTTP/1.1\r\nHost: ${name}:443\r\n\r\n`));
    s.on('data', (d) => {
      buf += d.toString('latin1');
      const line = buf.split('\r\n')[0];
      if (buf.includes('\r\n')) done(/^HTTP\/1\.[01] (\d{3})/.exec(line)?.[1] ?? 'garbage');
    });
    s.once('error', (e) => done(e.code ?? 'error'));
    s.once('end', () => done('closed'));
    s.once('close', () => done('closed'));
    function done(result) {
      clearTimeout(timer);
      open?.delete(s);
      s.destroy();
      resolve(result);
    }
  });
}

const label = () => Math.random().toString(36).slice(2, 10);
const tally = (counts, key) => (counts[key] = (counts[key] ?? 0) + 1);

// Refused CONNECTs (names nobody listed, long ones: each costs the log more) for `ms`.
async function flood({ proxyPort, ms, concurrency = 32 }) {
  const until = Date.now() + ms;
  const counts = {};
  let sent = 0;
  // Long names (three 63-byte labels): each refusal costs the log ~450 bytes.
  const pad = 'x'.repeat(63);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < until) {
        sent++;
        tally(counts, await connectStatus(proxyPort, `${pad}.${label()}${pad.slice(8)}.${pad}.flood-unlisted.test`, 3000));
      }
    }),
  );
  return { sent, counts };
}

let canary; // { stop: boolean, attempts, reached: [] , done: Promise }
let stall; // { stop: boolean, counts, done: Promise }

// Tries each canary every `everyMs` until stopped; remembers every one that answered.
function startCanary(targets, everyMs) {
  const c = { stop: false, attempts: 0, reached: [] };
  c.done = (async () => {
    while (!c.stop) {
      for (const [host, port] of targets) {
        c.attempts++;
        const r = await tryConnect(host, port, 1000);
        if (r === 'open') c.reached.push({ host, port, at: Date.now() });
      }
      await sleep(everyMs);
    }
  })();
  return c;
}

// CONNECTs to fresh names under a listed wildcard, `perSecond`, until stopped; at most 24 pending,
// well under the proxy's max-conn 64, so what an honest client meets is the stalled lookups, not
// a full house (a per-client cap is another matter, and another test's).
function startStall({ proxyPort, suffix, perSecond }) {
  const s = { stop: false, counts: {}, sent: 0 };
  const pending = new Set();
  const sockets = new Set();
  s.done = (async () => {
    while (!s.stop) {
      if (pending.size < 24) {
        s.sent++;
        const p = connectStatus(proxyPort, `${label()}.${suffix}`, 30000, sockets).then((r) => {
          tally(s.counts, r);
          pending.delete(p);
        });
        pending.add(p);
      }
      await sleep(1000 / perSecond);
    }
    // Those still waiting are closed: what the attack leaves behind is the lookups pending in the
    // proxy, not our sockets.
    s.pending = pending.size;
    for (const socket of sockets) socket.destroy();
    await Promise.all(pending);
  })();
  return s;
}

const handlers = {
  async probe({ target }) {
    const rec = await checkedSession(target, gateway, { stallMs: 3000, openTimeoutMs: 2000 }, async (send, drained) => {
      send(1024);
      await Promise.race([drained(), sleep(3000)]);
    });
    return { ...rec, ok: rec.outcome === 'intact' };
  },
  sweep,
  flood,
  async 'canary-start'({ targets, everyMs = 1000 }) {
    canary = startCanary(targets, everyMs);
    return {};
  },
  async 'canary-stop'() {
    if (!canary) return { attempts: 0, reached: [] };
    canary.stop = true;
    await canary.done;
    return { attempts: canary.attempts, reached: canary.reached };
  },
  async 'stall-start'(cmd) {
    stall = startStall(cmd);
    return {};
  },
  async 'stall-stop'() {
    if (!stall) return { sent: 0, counts: {} };
    stall.stop = true;
    await stall.done;
    return { sent: stall.sent, counts: stall.counts, pending: stall.pending };
  },
};

createInterface({ input: process.stdin })
  .on('line', async (line) => {
    const cmd = JSON.parse(line);
    try {
      reply(cmd.id, await handlers[cmd.cmd](cmd));
    } catch (error) {
      reply(cmd.id, { error: error.message });
    }
  })
  // The soak is gone (or done): so is its agent, pending attacks and all.
  .on('close', () => process.exit(0));
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
