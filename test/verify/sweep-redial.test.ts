// A sweep dials the next port on a socket an earlier port refused (Linux; REDIAL in tcp-scanner.ts),
// and an outcome counts only when it is the answer to a real dial of that port. Loopback for the
// real sockets; a stand-in for tcp_wrap for the sockets a kernel would never give us: one that
// refuses to dial again (the BSDs), and one whose reset lies.

import net from 'node:net';
import { constants } from 'node:os';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PORT_CODE, REDIAL, TcpScanner, sweepInWorker, sweepOnThisThread, type ShardInput } from '../../src/verify/inside/tcp-scanner.ts';
import { listen } from '../helpers/listen.ts';

const t = suite('gateway sweep: redialling refused sockets');
const errno = constants.errno;

// A range round two listeners, with each port's outcome written to a shared array.
async function twoListeners(): Promise<{ servers: net.Server[]; ports: number[]; input: ShardInput }> {
  const servers = [net.createServer((s) => s.destroy()), net.createServer((s) => s.destroy())];
  const ports = (await Promise.all(servers.map(listen))).sort((a, b) => a - b);
  const from = Math.max(1, ports[0]! - 150);
  const to = Math.min(65535, Math.max(ports[1]!, from + 300) + 150);
  const cursor = new Int32Array(new SharedArrayBuffer(4));
  cursor[0] = from;
  return { servers, ports, input: { host: '127.0.0.1', from, to, skip: [], cap: 8, timeoutMs: 5000, cursor, states: new Uint8Array(new SharedArrayBuffer(65536)) } };
}

function marked(states: Uint8Array, from: number, to: number, code: number): number[] {
  const out = [];
  for (let p = from; p <= to; p++) if (states[p] === code) out.push(p);
  return out;
}

t('on Linux most ports are dialled on a socket a port before refused, and the listeners are still found open', async () => {
  const { servers, ports, input } = await twoListeners();
  const scanner = new TcpScanner(32, 5000);
  try {
    const r = await sweepOnThisThread(input, () => undefined, scanner);
    const total = input.to - input.from + 1;
    assert.is(r.attempts, total);
    assert.is([...input.states!.subarray(input.from, input.to + 1)].filter((c) => c === 0).length, 0, 'an outcome for every port');
    for (const p of ports) assert.is(input.states![p], PORT_CODE.open, `listener ${p} open`);
    // Loopback is shared with the machine's other listeners: whatever else is open is named too.
    assert.equal(r.openPorts.sort((a, b) => a - b), marked(input.states!, input.from, input.to, PORT_CODE.open));
    assert.is(r.counts.error, 0);
    // Linux's kernel is the one that allows it (tcp-scanner.ts, REDIAL).
    if (process.platform === 'linux') assert.ok(r.redials > total / 2, `${r.redials} of ${total} ports redialled`);
    else assert.is(r.redials, 0, 'no redialling off Linux');
  } finally {
    scanner.close();
    for (const s of servers) s.close();
  }
});

t('a worker thread redials as this thread does, and finds the same ports open', async () => {
  const { servers, ports, input } = await twoListeners();
  try {
    const r = await sweepInWorker(input, () => undefined);
    for (const p of ports) assert.ok(r.openPorts.includes(p), `listener ${p} open`);
    assert.is(r.counts.open + r.counts.closed, input.to - input.from + 1);
    if (process.platform === 'linux') assert.ok(r.redials > 0, `${r.redials} redialled`);
  } finally {
    for (const s of servers) s.close();
  }
});

t('a listener dialled on the socket the port before it refused is found open', async () => {
  // Two listeners; the lower one closes, so the sweep meets a refusal, then the listener, then the
  // port after it. One socket at a time: on Linux the listener is dialled on the refused port's
  // socket, and the port after the listener on a fresh one (an open socket is never redialled).
  const servers = [net.createServer((s) => s.destroy()), net.createServer((s) => s.destroy())];
  const [low, high] = (await Promise.all(servers.map(listen))).sort((a, b) => a - b) as [number, number];
  const lower = servers.find((s) => (s.address() as net.AddressInfo).port === low)!;
  const upper = servers.find((s) => s !== lower)!;
  lower.close();
  await new Promise((r) => lower.once('close', r));
  const states = new Uint8Array(new SharedArrayBuffer(65536));
  const scanner = new TcpScanner(4, 5000);
  try {
    const to = high === 65535 ? high : high + 1;
    const skip = [];
    for (let p = low + 1; p < high; p++) skip.push(p);
    const r = await sweepOnThisThread({ host: '127.0.0.1', from: low, to, skip, cap: 1, timeoutMs: 5000, states }, () => undefined, scanner);
    assert.is(states[low], PORT_CODE.closed, 'the port that stopped listening');
    assert.is(states[high], PORT_CODE.open, 'the listener');
    assert.is(r.attempts, to - low + 1 - skip.length);
    if (process.platform === 'linux') assert.is(r.redials, 1, 'the listener, on the refused port\'s socket');
  } finally {
    scanner.close();
    upper.close();
  }
});

// A stand-in for tcp_wrap, answering at once: `open` ports connect, every other refuses; what a
// socket does when dialled again is `again`'s to say.
interface FakeReq {
  oncomplete: (status: number) => void;
}
function fakeBinding(open: ReadonlySet<number>, again: (req: FakeReq, port: number) => number) {
  const made = { sockets: 0, closed: 0 };
  class TCP {
    private dials = 0;
    private shut = false;
    constructor() {
      made.sockets++;
    }
    connect(req: FakeReq, _host: string, port: number): number {
      if (this.shut) return -errno.EBADF!;
      if (this.dials++ > 0) return again(req, port);
      setImmediate(() => req.oncomplete(open.has(port) ? 0 : -errno.ECONNREFUSED!));
      return 0;
    }
    connect6(req: FakeReq, host: string, port: number): number {
      return this.connect(req, host, port);
    }
    close(): void {
      if (!this.shut) made.closed++;
      this.shut = true;
    }
  }
  class TCPConnectWrap {
    oncomplete: (status: number) => void = () => undefined;
    address = '';
    port = 0;
  }
  return { binding: { TCP, TCPConnectWrap, constants: { SOCKET: 0 } }, made };
}

// Sweeps ports from..to of a TEST-NET address through the stand-in (no packet leaves), `cap` at a
// time, and lets one more turn of the loop run, for anything a closed socket might still report.
async function fakeSweep(open: number[], again: (req: FakeReq, port: number) => number, from: number, to: number, cap: number) {
  const { binding, made } = fakeBinding(new Set(open), again);
  const scanner = new TcpScanner(8, 5000);
  Object.assign(scanner, { raw: binding });
  const states = new Uint8Array(new SharedArrayBuffer(65536));
  try {
    const r = await sweepOnThisThread({ host: '192.0.2.1', from, to, skip: [], cap, timeoutMs: 5000, states }, () => undefined, scanner);
    await new Promise((resolve) => setImmediate(resolve));
    return { r, made, states };
  } finally {
    scanner.close();
  }
}

t('a socket that will not dial again (the BSDs) stops redialling: every port is answered on a fresh socket', async () => {
  const { r, made } = await fakeSweep([205], () => -errno.EINVAL!, 200, 219, 2);
  assert.is(r.redials, 0);
  assert.equal(r.counts, { open: 1, closed: 19, filtered: 0, error: 0 });
  assert.equal(r.openPorts, [205]);
  // One socket per port: the spare whose redial failed was port 200's.
  assert.is(made.sockets, 20);
  assert.is(made.closed, made.sockets, 'every socket closed');
});

t("a reset that starts a dial and reports a refusal is not the port's answer: the port is tried on a fresh socket", async () => {
  // Ports 300 (refused) and 301 (open), one socket at a time: 301 is the first port a spare would
  // dial. This socket's reset "starts" and then claims a refusal, the false "closed" a sweep must
  // never count.
  let lies = 0;
  const { r, made, states } = await fakeSweep(
    [301],
    (req) => {
      lies++;
      setImmediate(() => req.oncomplete(-errno.ECONNREFUSED!));
      return 0;
    },
    300,
    302,
    1,
  );
  assert.is(lies, REDIAL ? 1 : 0, 'the spare was tried once, then redialling stopped');
  assert.is(states[301], PORT_CODE.open, 'the open port is open');
  assert.equal(r.counts, { open: 1, closed: 2, filtered: 0, error: 0 });
  assert.is(r.redials, 0);
  assert.is(made.closed, made.sockets, 'the lying socket was closed too');
});

t('a reset that fails as Linux says, then a dial that fails at once, closes the socket and tries the port afresh', async () => {
  // ECONNABORTED for the reset, then ENOBUFS for the dial: the fresh socket's answer counts.
  let calls = 0;
  const { r, made } = await fakeSweep([], () => (calls++ % 2 === 0 ? -errno.ECONNABORTED! : -errno.ENOBUFS!), 400, 405, 1);
  assert.equal(r.counts, { open: 0, closed: 6, filtered: 0, error: 0 });
  assert.is(r.redials, 0);
  assert.is(calls, REDIAL ? 2 : 0);
  assert.is(made.closed, made.sockets);
});

t('a reset that fails as Linux says, then a dial that starts: the port counts as a redial', async () => {
  let resets = 0;
  const again = (req: FakeReq, port: number): number => {
    if (resets++ % 2 === 0) return -errno.ECONNABORTED!;
    setImmediate(() => req.oncomplete(port === 503 ? 0 : -errno.ECONNREFUSED!));
    return 0;
  };
  const { r, made } = await fakeSweep([503], again, 500, 509, 1);
  assert.equal(r.counts, { open: 1, closed: 9, filtered: 0, error: 0 });
  assert.equal(r.openPorts, [503]);
  if (REDIAL) {
    // 500 fresh, 501–503 on its socket; 503 connects, so 504 is fresh, and 505–509 on that one.
    assert.is(r.redials, 8);
    assert.is(made.sockets, 2);
  }
  assert.is(made.closed, made.sockets);
});

t.run();
