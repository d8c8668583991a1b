// The injecting layer for one tunnel to an injected name, whichever door it came through: it
// terminates the VM's TLS with our leaf (ALPN http/1.1 only), opens TLS to the real server with
// full verification, and relays request by request — each request re-framed with the rule's
// headers set to the secret, each response streamed back with every form of every secret masked.
// After a WebSocket handshake, client frames go through the token rewriter and server bytes
// through the scrubber. Every request, every WebSocket open and every refusal is one audit record.

import { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import type { Leaf } from './certificate-authority.ts';
import { pathOnly, type InjectAuditRecord } from './inject-audit.ts';
import type { InjectionPlan } from './injection-plan.ts';
import { RequestReader } from './http/request-reader.ts';
import { ResponseReader } from './http/response-reader.ts';
import { SecretScrubber } from './http/secret-scrubber.ts';
import { writeRequestHead } from './http/write-request-head.ts';
import { ClientFrameRewriter } from './websocket/client-frame-rewriter.ts';

export interface InjectingTunnelOptions {
  /** The VM's connection, its TLS not yet begun (bytes already read from it go in `hello`). */
  client: Duplex;
  hello: Buffer;
  /** The tunnel's name (checked SNI) and port. */
  name: string;
  port: number;
  leaf: Leaf;
  plan: InjectionPlan;
  needles: readonly Buffer[];
  /** Opens TLS to the real server for `name` (verification on, ALPN http/1.1). */
  connectUpstream: () => TLSSocket;
  audit: (record: InjectAuditRecord) => void;
  idleMs: number;
  /** How long either side may leave what it is sent unread before the tunnel is cut. */
  stallMs: number;
  now?: () => number;
}

// How much one side's TLS socket may hold unsent before the other side stops being read. Why not
// at write()'s first false: a TLS socket's write returns false after every 16 KiB record (its
// callback comes a tick later), so each record paused and resumed the other socket — two epoll
// changes a record — and the proxy spent 170-250 ms of CPU per 64 MiB instead of 110-140 ms.
// bench/inject.ts, proxies pinned, three runs each: 0.56x the plain tunnel at 16 KiB; 0.79-0.82x
// at 512 KiB, 0.84-0.87x at 1 MiB, 0.78-0.84x at 2 MiB. A tunnel holds at most this much per
// direction, for at most stallMs: 128 MiB over the default 64 tunnels, for 30 s, in the worst case.
const QUEUED_BYTES = 1024 * 1024;

interface Pending {
  started: number;
  method: string;
  path: string;
  bytesUp: number;
  websocket: boolean;
}

// Runs the tunnel; resolves, with the reason it ended, once both sides are destroyed. Every way
// it can end — either side closing or half-closing, in or between requests, a refusal, a peer that
// stops reading, idleness — ends here at once: a tunnel left waiting holds one of the proxy's
// connection slots, and a hostile VM could fill them all with handshakes it then walks away from.
export function runInjectingTunnel(o: InjectingTunnelOptions): Promise<string> {
  const now = o.now ?? Date.now;
  const time = () => new Date(now()).toISOString();
  const client = withHello(o.client, o.hello);
  // Why no Nagle: a response goes out as a head, body pieces and an end, written as they are
  // parsed; with Nagle the second small write waits for the client's delayed ACK (40 ms a request).
  (o.client as Duplex & { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
  const vm = new TLSSocket(client as never, {
    isServer: true,
    cert: o.leaf.certPem,
    key: o.leaf.keyPem,
    // Why http/1.1 only: the proxy frames HTTP/1.1 itself; an h2 connection would carry requests
    // it cannot read.
    ALPNProtocols: ['http/1.1'],
  });
  const requests = new RequestReader({ host: o.name, port: o.port });
  const responses = new ResponseReader(o.needles);
  const queue: Pending[] = [];
  let current: Pending | undefined;
  let bytesDown = 0;
  let upstream: TLSSocket | undefined;
  let upstreamReady = false;
  const early: Buffer[] = [];
  let finished = false;
  let vmPaused = false;
  let upstreamPaused = false;
  let websocket: { opened: number; rewriter?: ClientFrameRewriter; scrubber: SecretScrubber; up: number; down: number } | undefined;
  let responseStarted = false;
  /** The VM sent its last byte (a FIN or close_notify): it will send no more requests. */
  let vmEnded = false;
  let stallTimer: NodeJS.Timeout | undefined;
  let resolveDone: (reason: string) => void;
  const done = new Promise<string>((resolve) => (resolveDone = resolve));

  const finish = (reason: string): void => {
    if (finished) return;
    finished = true;
    clearTimeout(stallTimer);
    if (websocket) {
      o.audit({ time: time(), kind: 'websocket-close', name: o.name, rule: o.plan.rule, tokensInjected: websocket.rewriter?.rewritten ?? 0, bytesUp: websocket.up, bytesDown: websocket.down, durationMs: now() - websocket.opened });
    }
    vm.destroy();
    upstream?.destroy();
    o.client.destroy();
    resolveDone(reason);
  };
  // A peer that leaves what it is sent unread holds the tunnel: cut it after stallMs.
  const watchStall = (who: string): void => {
    if (stallTimer || finished) return;
    stallTimer = setTimeout(() => finish(`${who} stopped reading for ${o.stallMs} ms`), o.stallMs);
  };
  const clearStall = (): void => {
    clearTimeout(stallTimer);
    stallTimer = undefined;
  };
  // Ends the VM's side once what was written to it is out (the socket's 'finish' then ends all).
  const endVm = (): void => {
    if (!vm.writableEnded) vm.end();
  };
  const refuse = (code: string, reason: string, answer?: string): void => {
    if (finished) return;
    o.audit({ time: time(), kind: 'inject-refused', name: o.name, rule: o.plan.rule, code, reason });
    if (answer && vm.writable) {
      const body = `${reason}\n`;
      vm.end(`HTTP/1.1 ${answer}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      setTimeout(() => finish(`refused: ${reason}`), 1000).unref();
      upstream?.destroy();
      return;
    }
    finish(`refused: ${reason}`);
  };
  const toUpstream = (data: Buffer): void => {
    if (!upstreamReady) {
      early.push(data);
      return;
    }
    // Backpressure: the VM waits while the server's buffer is full (one drain listener at a time).
    if (!upstream!.write(data) && upstream!.writableLength > QUEUED_BYTES && !vmPaused) {
      vmPaused = true;
      vm.pause();
      watchStall('the server');
      upstream!.once('drain', () => {
        vmPaused = false;
        clearStall();
        vm.resume();
      });
    }
  };
  const toVm = (data: Buffer): void => {
    bytesDown += data.length;
    if (!vm.write(data) && vm.writableLength > QUEUED_BYTES && !upstreamPaused && upstream) {
      upstreamPaused = true;
      upstream.pause();
      watchStall('the client');
      vm.once('drain', () => {
        upstreamPaused = false;
        clearStall();
        upstream?.resume();
      });
    }
  };

  vm.on('error', (error: NodeJS.ErrnoException) => finish(`client TLS error (${error.code ?? error.message})`));
  vm.on('close', () => finish('tunnel closed'));
  vm.setTimeout(o.idleMs, () => finish(`idle for ${o.idleMs} ms`));
  // Why watch the VM's own socket too, and act on 'end': the doors' sockets are half-open
  // (allowHalfOpen) and the TLS socket on top stays half-open after the VM's end, so when the VM
  // closed nothing ever emitted 'close' — the tunnel waited for the idle timeout (measured: 'end'
  // on both, no 'close' or 'finish' until the proxy was stopped).
  o.client.on('close', () => finish('client closed'));
  o.client.on('error', (error: NodeJS.ErrnoException) => finish(`client connection error (${error.code ?? error.message})`));
  // Our last byte to the VM is out (after a Connection: close, the server's end, a refusal): done.
  vm.on('finish', () => finish('tunnel closed'));
  // The VM will send nothing more. In the middle of a request, that request can never be whole;
  // between requests with none pending, nothing is left to answer; with answers pending, they are
  // sent first (a half-closed client still reads). On a WebSocket, the end is passed on.
  vm.on('end', () => {
    vmEnded = true;
    if (finished) return;
    if (websocket) return void upstream?.end();
    if (!requests.idle()) return finish('client closed in the middle of a request');
    if (queue.length === 0) return finish('client closed');
  });
  vm.on('secure', () => {
    // The door checked the SNI; this is the same check on the handshake that happened here.
    if ((vm as TLSSocket & { servername?: string }).servername?.toLowerCase() !== o.name) {
      refuse('sni', 'the TLS server name is not the tunnel\'s name');
      return;
    }
    upstream = o.connectUpstream();
    upstream.setNoDelay(true);
    upstream.on('secureConnect', () => {
      upstreamReady = true;
      for (const data of early.splice(0)) toUpstream(data);
    });
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      // A failed verification is a refusal with a record, never a silent fallback.
      if (!upstreamReady) refuse('upstream-tls', `TLS to the server failed (${error.code ?? error.message})`, '502 Bad Gateway');
      else finish(`upstream error (${error.code ?? error.message})`);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (websocket) {
        websocket.down += chunk.length;
        const out = websocket.scrubber.push(chunk);
        if (out.length) toVm(out);
        return;
      }
      // One read from the server becomes one write to the VM where it can (a single TLS record).
      vm.cork();
      process.nextTick(() => vm.uncork());
      for (const event of responses.push(chunk)) {
        if (event.type === 'refuse') {
          refuse(event.code, event.reason, responseStarted ? undefined : '502 Bad Gateway');
          return;
        }
        if (event.type === 'head') {
          responseStarted = true;
          if (event.status === 101) openWebsocket();
          toVm(event.data);
        } else if (event.type === 'body') {
          toVm(event.data);
        } else if (event.type === 'end') {
          responseStarted = false;
          const request = queue.shift();
          if (request) {
            o.audit({ time: new Date(request.started).toISOString(), kind: 'injected-request', name: o.name, rule: o.plan.rule, method: request.method, path: request.path, status: event.status, bytesUp: request.bytesUp, bytesDown, durationMs: now() - request.started, secrets: o.plan.secrets });
          }
          bytesDown = 0;
          // A declined WebSocket handshake: what the VM sends next would be frames, not requests.
          if (event.close || request?.websocket || (vmEnded && queue.length === 0)) endVm();
        } else if (event.type === 'upgraded') {
          websocket!.down += event.data.length;
          const out = websocket!.scrubber.push(event.data);
          if (out.length) toVm(out);
        }
      }
    });
    upstream.on('end', () => {
      if (websocket) {
        const rest = websocket.scrubber.flush();
        if (rest.length) toVm(rest);
        endVm();
        return;
      }
      for (const event of responses.close()) {
        if (event.type === 'refuse') return refuse(event.code, event.reason, responseStarted ? undefined : '502 Bad Gateway');
        if (event.type === 'body') toVm(event.data);
      }
      endVm();
    });
    // The server closed without an end (reset, or destroyed): what it sent is passed on, then the VM's side ends.
    upstream.on('close', endVm);
  });

  const openWebsocket = (): void => {
    const request = queue.shift();
    websocket = { opened: now(), scrubber: new SecretScrubber(o.needles), up: 0, down: 0, ...(o.plan.websocketToken !== undefined ? { rewriter: new ClientFrameRewriter(o.plan.websocketToken) } : {}) };
    // Recorded when it opens: a gateway connection lives for days, and its record must not wait for the close.
    o.audit({ time: time(), kind: 'websocket-open', name: o.name, rule: o.plan.rule, path: request?.path ?? '/', secrets: o.plan.secrets });
    // Frames the VM sent before the 101 arrived were held in the request reader's output: none,
    // since the handshake request ends the request stream until the answer comes.
    for (const data of heldFrames.splice(0)) sendFrames(data);
  };
  const heldFrames: Buffer[] = [];
  const sendFrames = (data: Buffer): void => {
    if (!websocket) {
      heldFrames.push(data);
      return;
    }
    websocket.up += data.length;
    if (!websocket.rewriter) return toUpstream(data);
    for (const result of websocket.rewriter.push(data)) {
      if (result.type === 'refuse') return refuse('websocket', result.reason);
      toUpstream(result.data);
    }
  };

  vm.on('data', (chunk: Buffer) => {
    if (upstreamReady) {
      upstream!.cork();
      process.nextTick(() => upstream?.uncork());
    }
    for (const event of requests.push(chunk)) {
      switch (event.type) {
        case 'refuse':
          return refuse(event.code, event.reason, '403 Forbidden');
        case 'head': {
          current = { started: now(), method: event.head.method, path: pathOnly(event.head.target), bytesUp: 0, websocket: event.head.websocket };
          const head = writeRequestHead(event.head, { set: o.plan.headers });
          current.bytesUp += head.length;
          responses.expect(event.head.method, event.head.websocket);
          queue.push(current);
          toUpstream(head);
          break;
        }
        case 'body':
          if (current) current.bytesUp += event.data.length;
          toUpstream(event.data);
          break;
        case 'end':
          current = undefined;
          break;
        case 'upgraded':
          sendFrames(event.data);
          break;
      }
    }
  });
  return done;
}

// The VM's connection with the bytes a door already read (the ClientHello) in front again. A
// socket gets them put back on its own read buffer, which the TLS socket reads first and then
// reads the socket's handle natively — why not always the stream below: a TLS socket on a
// JavaScript stream copies every byte in and out of it, once more each way, and runs a stream's
// machinery per chunk (the injecting path's throughput fell to about 0.5–0.7x the plain tunnel).
function withHello(socket: Duplex, hello: Buffer): Duplex {
  if (hello.length === 0) return socket;
  if (socket instanceof Socket && !socket.destroyed) {
    socket.pause();
    socket.unshift(hello);
    return socket;
  }
  return withPrefix(socket, hello);
}

// A stream that yields `prefix` (bytes a door already read, the ClientHello) and then whatever the
// socket sends, and writes to the socket: TLS reads the hello again from the start. (Why not
// unshift: a TLS socket may take over the socket's handle and never see bytes put back on it.)
function withPrefix(socket: Duplex, prefix: Buffer): Duplex {
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, callback);
    },
    final(callback) {
      socket.end();
      callback();
    },
    destroy(error, callback) {
      socket.destroy();
      callback(error);
    },
  });
  duplex.push(prefix);
  socket.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('error', (error) => duplex.destroy(error));
  socket.on('close', () => duplex.destroy());
  return duplex;
}
