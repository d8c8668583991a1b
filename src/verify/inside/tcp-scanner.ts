// Opens many TCP connections fast, never more at once than a cap, and classifies each attempt as
// open (handshake done), closed (RST: refused), filtered (silence, or ICMP unreachable) or error
// (no packet tested the path: out of sockets, buffers or local ports, an address this VM cannot
// use; such a probe proves nothing, so it never counts as blocked).
//
// Why not net.Socket: a full gateway sweep is 65,535 connects, and net.Socket's stream and event
// machinery costs more per connect than the kernel does (measured: ~2.1x nmap -sT at best). The raw
// libuv TCP handle behind net (process.binding('tcp_wrap'), on Node's allow-list) skips all of that
// and keeps pace with nmap (~1.05x); a sweep that redials refused sockets (REDIAL, Linux) runs
// ahead of it. If a future Node drops the binding we fall back to net.

import net from 'node:net';
import { getSystemErrorName } from 'node:util';

// Why a window and a cap: against a host that answers RST, more sockets in flight only add kernel
// contention (measured: 64 in flight sweeps 65,535 ports in ~1.15 s, 512 in ~1.4 s); against one that
// drops silently, every socket waits for its timeout, so throughput needs as many as the cap allows.
// So at most WINDOW fresh connects are in flight, and ones that have waited STALE_MS (surely not
// a local RST) no longer count against it, only against the cap.
const WINDOW = 64;
const STALE_MS = 20;

export type PortState = 'open' | 'closed' | 'filtered' | 'error';

/**
 * The connect errors that are the network's answer: an ICMP unreachable (host, net, or
 * administratively prohibited, which Linux reports for ICMPv6 as EACCES), a host or net down, an
 * aborted handshake, and the scanner's own "timeout" (silence). ECONNREFUSED and ECONNRESET are
 * "closed". Anything else happened on this side of the wire (EMFILE, ENFILE, ENOBUFS, ENOMEM,
 * EADDRNOTAVAIL, EINVAL, EAFNOSUPPORT, EPERM from the VM's own firewall, an abandoned probe): the
 * path was never tried, and a wider sweep makes running out of something likelier.
 */
export const FILTERED_ERRORS: readonly string[] = ['timeout', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EACCES', 'ECONNABORTED', 'ENONET'];

/** state, the errno name (or "connected"/"timeout"), and milliseconds taken. */
export type OnPort = (state: PortState, code: string, ms: number) => void;

/** Pulls the next [host, port] of one batch, or undefined when the batch is done. */
export type NextTarget = () => readonly [string, number] | undefined;

export interface ScannerStats {
  cap: number;
  open: number;
  maxOpen: number;
  attempts: number;
  engine: 'tcp_wrap' | 'net';
}

interface Batch {
  next: NextTarget;
  onPort: (host: string, port: number, state: PortState, code: string, ms: number) => void;
}

interface InFlight {
  started: number;
  done: boolean;
  cancel(): void;
  finish(state: PortState, code: string): void;
}

interface RawBinding {
  TCP: new (type: number) => RawHandle;
  TCPConnectWrap: new () => RawConnectReq;
  constants: { SOCKET: number };
}
interface RawHandle {
  connect(req: RawConnectReq, address: string, port: number): number;
  connect6(req: RawConnectReq, address: string, port: number): number;
  close(): void;
}
interface RawConnectReq {
  oncomplete: (status: number) => void;
  address: string;
  port: number;
}

export class TcpScanner {
  readonly stats: ScannerStats;
  private readonly batches: Batch[] = [];
  private readonly inFlight = new Set<InFlight>();
  private cursor = 0;
  private timer: NodeJS.Timeout | undefined;
  /** libuv's TCP binding, or undefined on the net engine (a sweep on this thread uses it too). */
  readonly raw: RawBinding | undefined;
  private closed = false;
  private pumping = false;
  /** Sockets connecting for longer than STALE_MS, as of the last timer tick. */
  private stale = 0;
  private readonly window: number;
  private readonly closers: Array<() => void> = [];
  /** The cap less what sweep workers hold (see lend). */
  private capNow: number;

  constructor(
    cap: number,
    readonly timeoutMs: number,
    engine: 'auto' | 'net' = 'auto',
  ) {
    this.raw = engine === 'auto' ? loadRawBinding() : undefined;
    this.window = Math.min(cap, WINDOW);
    this.stats = { cap, open: 0, maxOpen: 0, attempts: 0, engine: this.raw ? 'tcp_wrap' : 'net' };
    this.capNow = cap;
  }

  // Sets sockets aside for a sweep worker (so all threads together stay under the cap); returns the
  // function that gives them back.
  lend(n: number): () => void {
    const lent = Math.max(0, Math.min(n, this.capNow - 1));
    this.capNow -= lent;
    return () => {
      this.capNow += lent;
      this.pump();
    };
  }

  // Tries every target a batch yields; onPort runs once per target.
  scan(next: NextTarget, onPort: Batch['onPort']): void {
    this.batches.push({ next, onPort });
    this.pump();
  }

  // One connection attempt, as a promise.
  probe(host: string, port: number): Promise<{ state: PortState; code: string; ms: number }> {
    return new Promise((resolve) => {
      let given = false;
      this.scan(
        () => (given ? undefined : ((given = true), [host, port] as const)),
        (_h, _p, state, code, ms) => resolve({ state, code, ms }),
      );
    });
  }

  // Runs fn when the scanner closes (a sweep worker stops with it).
  onClose(fn: () => void): void {
    if (this.closed) fn();
    else this.closers.push(fn);
  }

  // Abandons queued work and closes every socket still connecting (each reports "error": it was
  // not waited out, so it proves nothing).
  close(): void {
    this.closed = true;
    for (const fn of this.closers.splice(0)) fn();
    this.batches.length = 0;
    for (const f of [...this.inFlight]) f.finish('error', 'cancelled');
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private pump(): void {
    // A connect that fails synchronously finishes inside start(); re-entering here would nest once
    // per port, so the outer loop carries on instead.
    if (this.pumping) return;
    this.pumping = true;
    while (!this.closed && this.stats.open < this.capNow && this.stats.open - this.stale < this.window && this.batches.length > 0) {
      // Round-robin, so a short probe is not queued behind 65,535 sweep ports.
      if (this.cursor >= this.batches.length) this.cursor = 0;
      const batch = this.batches[this.cursor]!;
      const target = batch.next();
      if (target === undefined) {
        this.batches.splice(this.cursor, 1);
        continue;
      }
      this.cursor++;
      this.start(batch, target[0], target[1]);
    }
    this.pumping = false;
    if (this.inFlight.size > 0 && this.timer === undefined) {
      this.timer = setInterval(() => this.expire(), Math.max(5, Math.min(STALE_MS / 2, this.timeoutMs / 4)));
    } else if (this.inFlight.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  // One timer for all sockets instead of one per socket: silent drops end as "filtered", and sockets
  // waiting longer than STALE_MS stop counting against the window (see WINDOW).
  // A socket past its timeout is called filtered only after one more turn of I/O (see deadline.ts):
  // a connect that completed while the event loop was held must not lose to the timer.
  private expire(): void {
    const now = performance.now();
    let stale = 0;
    const expired: InFlight[] = [];
    for (const f of this.inFlight) {
      const age = now - f.started;
      if (age >= this.timeoutMs) expired.push(f);
      else if (age >= STALE_MS) stale++;
    }
    this.stale = stale;
    if (expired.length > 0) {
      setImmediate(() => {
        for (const f of expired) f.finish('filtered', 'timeout');
        this.pump();
      });
    }
    this.pump();
  }

  private start(batch: Batch, host: string, port: number): void {
    this.stats.attempts++;
    this.stats.open++;
    if (this.stats.open > this.stats.maxOpen) this.stats.maxOpen = this.stats.open;
    const started = performance.now();
    const flight: InFlight = {
      started,
      done: false,
      cancel: () => undefined,
      finish: (state, code) => {
        if (flight.done) return;
        flight.done = true;
        flight.cancel();
        this.inFlight.delete(flight);
        this.stats.open--;
        batch.onPort(host, port, state, code, performance.now() - started);
        this.pump();
      },
    };
    this.inFlight.add(flight);
    if (this.raw) this.startRaw(this.raw, flight, host, port);
    else this.startNet(flight, host, port);
  }

  private startRaw(raw: RawBinding, flight: InFlight, host: string, port: number): void {
    const handle = new raw.TCP(raw.constants.SOCKET);
    const req = new raw.TCPConnectWrap();
    flight.cancel = () => handle.close();
    req.address = host;
    req.port = port;
    req.oncomplete = (status) => flight.finish(...classify(status));
    // tcp_wrap takes address literals only, and only IPv6 ones hold a colon: no regex per port
    // (net.isIPv6 runs one; the sweep asks 65,535 times).
    const err = host.includes(':') ? handle.connect6(req, host, port) : handle.connect(req, host, port);
    if (err) flight.finish(...classify(err));
  }

  private startNet(flight: InFlight, host: string, port: number): void {
    const socket = net.connect({ host, port });
    flight.cancel = () => socket.destroy();
    socket.once('connect', () => flight.finish('open', 'connected'));
    socket.once('error', (e: NodeJS.ErrnoException) => flight.finish(...classifyName(e.code ?? 'EIO')));
  }
}

function classify(status: number): [PortState, string] {
  if (status === 0) return ['open', 'connected'];
  let name: string;
  try {
    name = getSystemErrorName(status);
  } catch {
    name = `E${-status}`;
  }
  return classifyName(name);
}

// RST means the port answered "closed"; the network's other answers (unreachable, prohibited, no
// route, silence) are a filter; any other error is no answer at all.
export function classifyName(name: string): [PortState, string] {
  if (name === 'ECONNREFUSED' || name === 'ECONNRESET') return ['closed', name];
  return [FILTERED_ERRORS.includes(name) ? 'filtered' : 'error', name];
}

function loadRawBinding(): RawBinding | undefined {
  try {
    const binding = (process as unknown as { binding(name: string): unknown }).binding('tcp_wrap') as RawBinding;
    if (typeof binding?.TCP === 'function' && typeof binding.TCPConnectWrap === 'function') return binding;
  } catch {
    // not available in this Node: use net
  }
  return undefined;
}

/** Ports a worker claims from the shared cursor at a time. */
export const SWEEP_CHUNK = 512;

/** Each port's outcome in a shared sweep's `states` array (0: not probed yet). */
export const PORT_CODE: Record<PortState, number> = { closed: 1, filtered: 2, open: 3, error: 4 };

/**
 * One worker thread's part of a sweep of ports from..to of host, minus skip. With `cursor` (the
 * next unclaimed port, shared by every thread of the sweep) it claims SWEEP_CHUNK ports at a time
 * until none are left, so a thread on a busier core simply sweeps fewer; without, all of from..to.
 * With `states` (65,536 bytes, shared) it writes each port's PORT_CODE there as it ends.
 */
export interface ShardInput {
  host: string;
  from: number;
  to: number;
  skip: readonly number[];
  cap: number;
  timeoutMs: number;
  cursor?: Int32Array;
  states?: Uint8Array;
}

export interface ShardResult {
  counts: Record<PortState, number>;
  openPorts: number[];
  /** The first few distinct errno names of ports counted as "error". */
  errorCodes: string[];
  attempts: number;
  maxOpen: number;
  /** Ports dialled on a socket an earlier port had refused (REDIAL), not on a fresh one. */
  redials: number;
}

// Sweeps a port range in a worker thread, so a sweep can use another core (nmap -sT uses one).
// Resolves with every port of the range counted; rejects if the thread cannot start or dies, and
// the caller then scans what it left itself.
export async function sweepInWorker(input: ShardInput, onProgress: (done: number) => void, scanner?: TcpScanner): Promise<ShardResult> {
  const { Worker } = await import('node:worker_threads');
  // The worker runs the source text of sweepShard (self-contained: it uses only its parameters),
  // since the probe arrives over stdin and has no file to point a worker at. `__name` is defined
  // for the tsx/esbuild keepNames helper, which the tests' transform may insert.
  const source = [
    'var __name = (f) => f;',
    "const { parentPort, workerData } = require('node:worker_threads');",
    `(${sweepShard.toString()})(process.binding('tcp_wrap'), require('node:util').getSystemErrorName, ${JSON.stringify(SHARD_RULES)}, workerData,`,
    '  (done, result) => parentPort.postMessage(result ? { done, result } : { done }));',
  ].join('\n');
  return new Promise((resolve, reject) => {
    const worker = new Worker(source, { eval: true, workerData: input });
    scanner?.onClose(() => void worker.terminate());
    let result: ShardResult | undefined;
    worker.on('message', (m: { done: number; result?: ShardResult }) => {
      if (m.result) {
        result = m.result;
        resolve(m.result);
      } else onProgress(m.done);
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (!result) reject(new Error(`sweep worker exited ${code} without a result`));
    });
  });
}

// The same sweep on this thread's event loop, beside the other probes: a worker thread costs
// ~65 ms of CPU and ~2,000 page faults to start here, and this thread would otherwise sit idle
// through the sweep. Rejects when the scanner has no tcp_wrap, or closes first.
export function sweepOnThisThread(input: ShardInput, onProgress: (done: number) => void, scanner: TcpScanner): Promise<ShardResult> {
  const raw = scanner.raw;
  if (!raw) return Promise.reject(new Error('this scanner has no tcp_wrap'));
  return new Promise((resolve, reject) => {
    const stop = sweepShard(raw, getSystemErrorName, SHARD_RULES, input, (done, result) => (result ? resolve(result) : onProgress(done)));
    scanner.onClose(() => {
      stop();
      reject(new Error('the sweep was stopped'));
    });
  });
}

/** The constants a shard needs, passed in because a worker has only the shard's source text. */
interface ShardRules {
  window: number;
  staleMs: number;
  filteredErrors: readonly string[];
  chunk: number;
  portCode: Record<PortState, number>;
  /** Whether a socket whose connect was refused may dial the next port (see REDIAL). */
  redial: boolean;
}

/**
 * Whether a sweep dials the next port on a socket whose last connect was refused, instead of
 * opening a new one: a fresh socket per port is most of a sweep's cost (the kernel builds and
 * frees the socket, libuv and Node a handle, V8 an object to collect), and nmap -sT pays it too.
 * Linux only, where it is defined behaviour: connect() on a TCP socket whose nonblocking connect
 * failed first reports that attempt's end (ECONNABORTED, its error having been read) and
 * disconnects the socket, and the next connect() starts a new handshake from a new local port
 * (net/ipv4/af_inet.c, __inet_stream_connect; the same ECONNREFUSED, ECONNABORTED, ECONNREFUSED
 * of retries on one socket is in irods/irods#2948). POSIX leaves such a socket unspecified and
 * macOS answers EINVAL (the same issue), so there every port gets a fresh socket as before. Some
 * "Linux" kernels lack it too (gVisor, google/gvisor#3828): a socket that does not behave as
 * Linux's does stops the redialling at its first port (see redialled in sweepShard).
 * Measured: a quarter less CPU and time for a 65,535-port sweep (docs/performance.md, round 9).
 */
export const REDIAL = process.platform === 'linux';
const SHARD_RULES: ShardRules = { window: WINDOW, staleMs: STALE_MS, filteredErrors: FILTERED_ERRORS, chunk: SWEEP_CHUNK, portCode: PORT_CODE, redial: REDIAL };

// One thread's part of a sweep, on tcp_wrap only, under the same window, stale and timeout rules
// as TcpScanner. report(done) gives progress at most every 100 ms, and report(done, result) once at
// the end. Returns a function that stops it (closing what is in flight; no result follows).
// Runs from its source text in a worker, so it may use only its parameters and globals.
function sweepShard(
  raw: RawBinding,
  errorName: (status: number) => string,
  rules: ShardRules,
  d: ShardInput,
  report: (done: number, result?: ShardResult) => void,
): () => void {
  const { window, staleMs, filteredErrors, chunk, portCode } = rules;
  // Alone (no shared cursor), the whole range is this thread's: one claim covers it.
  const cursor = d.cursor ?? Int32Array.of(d.from);
  const step = d.cursor ? chunk : d.to - d.from + 1;
  const v6 = d.host.includes(':');
  const skip = new Set(d.skip);
  const counts: Record<PortState, number> = { open: 0, closed: 0, filtered: 0, error: 0 };
  const openPorts: number[] = [];
  const errorCodes: string[] = [];
  type Flight = { handle: RawHandle; port: number; started: number; done: boolean };
  const flights = new Set<Flight>();
  // The next port of the claimed chunk, and the chunk's last port; -1 once nothing is left.
  let port = 0;
  let last = -1;
  const nextPort = (): number => {
    for (;;) {
      if (port > last) {
        const claimed = Atomics.add(cursor, 0, step);
        if (claimed > d.to) return -1;
        port = claimed;
        last = Math.min(d.to, claimed + step - 1);
      }
      const p = port++;
      if (!skip.has(p)) return p;
    }
  };
  let next = nextPort();
  let open = 0;
  let stale = 0;
  let maxOpen = 0;
  let attempts = 0;
  let redials = 0;
  let done = 0;
  let pumping = false;
  let stopped = false;
  let lastReport = 0;
  // As classifyName: the network's answers are closed or filtered, any other error is "error".
  const nameOf = (status: number): string => {
    try {
      return errorName(status);
    } catch {
      return `E${-status}`; // an errno Node has no name for: not one of the network's answers
    }
  };
  const stateOf = (status: number): [PortState, string] => {
    if (status === 0) return ['open', 'connected'];
    const name = nameOf(status);
    if (name === 'ECONNREFUSED' || name === 'ECONNRESET') return ['closed', name];
    return [filteredErrors.includes(name) ? 'filtered' : 'error', name];
  };
  // A socket whose connect was refused, kept for the next port (rules.redial); at most one, since
  // the port that frees it is the one that starts next.
  let spare: RawHandle | undefined;
  let redial = rules.redial;
  const finish = (f: Flight, [state, code]: [PortState, string]): void => {
    if (f.done || stopped) return;
    f.done = true;
    if (code === 'ECONNREFUSED' && redial && spare === undefined && next >= 0) spare = f.handle;
    else f.handle.close();
    flights.delete(f);
    open--;
    counts[state]++;
    if (d.states) d.states[f.port] = portCode[state];
    if (state === 'open') openPorts.push(f.port);
    if (state === 'error' && errorCodes.length < 5 && !errorCodes.includes(code)) errorCodes.push(code);
    done++;
    pump();
  };
  const connectOn = (handle: RawHandle, req: RawConnectReq, p: number): number => (v6 ? handle.connect6(req, d.host, p) : handle.connect(req, d.host, p));
  const dial = (handle: RawHandle, p: number, f: Flight): number => {
    const connect = new raw.TCPConnectWrap();
    connect.address = d.host;
    connect.port = p;
    connect.oncomplete = (status) => finish(f, stateOf(status));
    return connectOn(handle, connect, p);
  };
  // A spare socket's first connect only ends its last attempt: on Linux it fails at once with
  // ECONNABORTED, and its request, which is never counted, has nothing to report. Then the socket
  // dials the port. Anything else (that first connect starting, another error, the dial failing)
  // means the socket is not in the state Linux promises: it is closed (cancelling whatever it
  // started), redialling stops for this sweep, and the port is tried on a fresh socket, whose
  // answer is the one that counts.
  const redialled = (handle: RawHandle, p: number, f: Flight): boolean => {
    const reset = new raw.TCPConnectWrap();
    reset.oncomplete = () => undefined;
    const ended = connectOn(handle, reset, p);
    if (ended !== 0 && nameOf(ended) === 'ECONNABORTED' && dial(handle, p, f) === 0) return true;
    handle.close();
    redial = false;
    return false;
  };
  const start = (p: number): void => {
    attempts++;
    open++;
    if (open > maxOpen) maxOpen = open;
    const f: Flight = { handle: spare ?? new raw.TCP(raw.constants.SOCKET), port: p, started: performance.now(), done: false };
    flights.add(f);
    if (spare !== undefined) {
      spare = undefined;
      if (redialled(f.handle, p, f)) {
        redials++;
        return;
      }
      f.handle = new raw.TCP(raw.constants.SOCKET);
    }
    const err = dial(f.handle, p, f);
    if (err) finish(f, stateOf(err));
  };
  const timer = setInterval(
    () => {
      const now = performance.now();
      let s = 0;
      const expired: Flight[] = [];
      for (const f of flights) {
        const age = now - f.started;
        if (age >= d.timeoutMs) expired.push(f);
        else if (age >= staleMs) s++;
      }
      // Filtered only after one more turn of I/O, as in TcpScanner.expire.
      if (expired.length > 0) {
        setImmediate(() => {
          for (const f of expired) finish(f, ['filtered', 'timeout']);
          pump();
        });
      }
      stale = s;
      if (now - lastReport >= 100) {
        lastReport = now;
        report(done);
      }
      pump();
    },
    Math.max(5, Math.min(staleMs / 2, d.timeoutMs / 4)),
  );
  function pump(): void {
    if (pumping || stopped) return;
    pumping = true;
    while (open < d.cap && open - stale < window && next >= 0) {
      start(next);
      next = nextPort();
    }
    pumping = false;
    if (spare !== undefined) {
      spare.close();
      spare = undefined;
    }
    if (open === 0 && next < 0) {
      stopped = true;
      clearInterval(timer);
      report(done, { counts, openPorts, errorCodes, attempts, maxOpen, redials });
    }
  }
  pump();
  return () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    for (const f of flights) f.handle.close();
    flights.clear();
    spare?.close();
  };
}
