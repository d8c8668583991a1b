// One client connection from accept to close: read the CONNECT head, decide, resolve and check,
// connect, answer 200, read the ClientHello and check its SNI, then relay bytes both ways.
// Every path ends in exactly one audit record and both sockets destroyed.

import type { Socket } from 'node:net';
import type { AuditRecord, ProxyConfig, ProxyRule } from '../formats/proxy-config.ts';
import { readRequestHead } from './request-head.ts';
import { parseConnectTarget } from './connect-target.ts';
import { matchRule } from '../formats/match-rule.ts';
import { resolveChecked, type CheckedAddress, type Lookup } from './resolve-checked.ts';
import { readClientHello } from './client-hello.ts';
import { normaliseName, printable } from '../net/host-name.ts';
import type { Cidr, IpBytes } from '../net/ip-address.ts';

// Opens the upstream TCP connection to a checked address (net.connect; tests map lab addresses).
export type Connect = (options: { host: string; port: number; family: 4 | 6 }) => Socket;

export interface ClientContext {
  config: ProxyConfig;
  deny: readonly Cidr[];
  /** The host's own addresses now. */
  hostAddresses: () => IpBytes[];
  lookup: Lookup;
  connect: Connect;
  now: () => number;
  audit: (record: AuditRecord) => void;
}

// A fatal TLS alert, access_denied (RFC 8446 §6.2), so a refused client's TLS library reports
// "access denied" instead of an unexplained reset.
const TLS_ACCESS_DENIED = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x31]);
// How long a refused client gets to read its 403 before the socket is destroyed.
const LINGER_MS = 1000;

export class ClientConnection {
  private readonly started: number;
  private name = '';
  private port = 0;
  private address: string | undefined;
  private rule: ProxyRule | undefined;
  private sni: string | undefined;
  private upstream: Socket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private finished = false;
  private relaying = false;
  private said200 = false;

  constructor(private readonly socket: Socket, private readonly client: string, private readonly ctx: ClientContext) {
    this.started = ctx.now();
    socket.on('error', (error: NodeJS.ErrnoException) =>
      this.end(this.relaying ? 'allowed' : 'refused', `client connection error (${error.code ?? error.message})`));
    socket.on('close', () => this.end(this.relaying ? 'allowed' : 'refused', this.relaying ? 'tunnel closed' : 'client closed before the tunnel was set up'));
    // A client that stops sending (FIN) before the tunnel exists will never finish its request:
    // answer now rather than hold its slot until a timeout.
    socket.on('end', () => {
      if (this.relaying || this.finished) return;
      if (this.said200) this.close('client closed before sending a complete ClientHello', false);
      else this.refuse('client closed before sending a complete request');
    });
  }

  // Starts reading the request head.
  start(): void {
    let bytes = Buffer.alloc(0);
    this.arm(this.ctx.config.timeouts.headerMs, () => this.refuse(`request head not complete within ${this.ctx.config.timeouts.headerMs} ms`));
    const onData = (chunk: Buffer): void => {
      bytes = Buffer.concat([bytes, chunk]);
      const head = readRequestHead(bytes, this.ctx.config.maxHeaderBytes);
      if (head.status === 'incomplete') return;
      this.socket.off('data', onData);
      this.socket.pause();
      this.disarm();
      if (head.status === 'refused') {
        if (head.target !== undefined) this.name = printable(head.target, 253);
        this.refuse(head.reason);
        return;
      }
      void this.decide(head.target, head.rest);
    };
    this.socket.on('data', onData);
  }

  // Checks the target against the rules and the resolver's answer, then connects.
  private async decide(target: string, rest: Buffer): Promise<void> {
    const parsed = parseConnectTarget(target);
    this.name = parsed.name;
    this.port = parsed.port;
    if (!parsed.ok) return this.refuse(parsed.reason);
    const match = matchRule(this.ctx.config.rules, parsed.name, parsed.port);
    if (!match.ok) return this.refuse(match.reason);
    this.rule = match.rule;
    const { lookup, deny, config } = this.ctx;
    const resolved = await resolveChecked(parsed.name, lookup, deny, config.timeouts.connectMs, this.ctx.hostAddresses());
    if (this.finished) return;
    if (!resolved.ok) {
      this.address = resolved.address;
      return this.refuse(resolved.reason, resolved.reason.startsWith('name did not') ? 502 : 403);
    }
    this.connectUpstream(resolved.addresses, rest);
  }

  // Connects to the checked addresses in order until one answers (an unreachable IPv6 address
  // falls back to the IPv4 one, as getaddrinfo callers do); then answers 200 and reads the hello.
  private connectUpstream(addresses: CheckedAddress[], rest: Buffer, failures: string[] = []): void {
    const [next, ...others] = addresses;
    if (!next) return this.refuse(`could not connect: ${failures.join('; ')}`, 502);
    const { address, family } = next;
    const { connectMs } = this.ctx.config.timeouts;
    this.address = address;
    const upstream = this.ctx.connect({ host: address, port: this.port, family });
    this.upstream = upstream;
    const failed = (why: string): void => {
      upstream.destroy();
      if (!this.finished) this.connectUpstream(others, rest, [...failures, `${address} port ${this.port} ${why}`]);
    };
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      if (this.upstream !== upstream) return; // an attempt already given up
      const code = error.code ?? error.message;
      if (this.relaying) this.end('allowed', `upstream error (${code})`);
      else if (!this.said200) failed(`(${code})`);
      else this.close(`upstream error before the ClientHello was relayed (${code})`, false);
    });
    this.arm(connectMs, () => failed(`(no answer within ${connectMs} ms)`));
    upstream.once('connect', () => {
      this.disarm();
      if (this.finished) return;
      this.socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
      this.said200 = true;
      this.readHello(rest);
    });
  }

  // Holds every byte until a whole ClientHello is read and its SNI is the CONNECT name.
  private readHello(first: Buffer): void {
    let bytes = first;
    const { helloMs } = this.ctx.config.timeouts;
    this.arm(helloMs, () => this.close(`no complete TLS ClientHello within ${helloMs} ms`, bytes.length > 0));
    const check = (): void => {
      const hello = readClientHello(bytes, this.ctx.config.maxHelloBytes);
      if (hello.status === 'incomplete') return;
      this.socket.off('data', onData);
      this.socket.pause();
      this.disarm();
      if (hello.status === 'refused') return this.close(hello.reason, hello.reason !== 'not TLS');
      if (hello.sni === undefined) return this.close('ClientHello has no SNI', true);
      this.sni = printable(hello.sni, 253);
      if (hello.ech) return this.close('encrypted ClientHello (ECH) hides the real name', true);
      if (normaliseName(hello.sni) !== this.name) return this.close(`SNI "${this.sni}" is not the CONNECT name`, true);
      this.relay(bytes);
    };
    const onData = (chunk: Buffer): void => {
      bytes = bytes.length === 0 ? chunk : Buffer.concat([bytes, chunk]);
      check();
    };
    this.socket.on('data', onData);
    this.socket.resume();
    if (bytes.length > 0) check();
  }

  // Relays both ways with backpressure (pipe), closing the tunnel after idleMs without a byte.
  private relay(hello: Buffer): void {
    const upstream = this.upstream!;
    this.relaying = true;
    // The record is written when the client socket closes: after the upstream closes, pipe ends
    // the client socket only once everything buffered for it has been written.
    upstream.write(hello);
    this.socket.pipe(upstream);
    upstream.pipe(this.socket);
    // Every byte of the tunnel passes through the client socket (read up, written down), so one
    // inactivity timer on it sees traffic in both directions.
    this.socket.setTimeout(this.ctx.config.timeouts.idleMs, () => this.end('allowed', `idle for ${this.ctx.config.timeouts.idleMs} ms`));
    this.socket.resume();
  }

  // Refuses before the tunnel exists: an HTTP status with a one-line reason, then close.
  refuse(reason: string, status = 403): void {
    if (this.finished) return;
    const text = { 403: 'Forbidden', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' }[status] ?? 'Forbidden';
    const body = `${reason}\n`;
    this.socket.removeAllListeners('data');
    this.socket.resume(); // discard whatever else the client sends while the answer drains
    this.socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    const linger = setTimeout(() => this.socket.destroy(), LINGER_MS);
    this.socket.once('close', () => clearTimeout(linger));
    this.end('refused', reason);
  }

  // Refuses after "200": HTTP is over, so only a TLS alert (when the client spoke TLS) and close.
  private close(reason: string, tls: boolean): void {
    if (this.finished) return;
    if (this.socket.writable) {
      if (tls) this.socket.end(TLS_ACCESS_DENIED);
      else this.socket.end();
    }
    const linger = setTimeout(() => this.socket.destroy(), LINGER_MS);
    this.socket.once('close', () => clearTimeout(linger));
    this.socket.removeAllListeners('data');
    this.socket.resume();
    this.end('refused', reason);
  }

  // Ends the connection for good: one audit record, every timer cleared, upstream destroyed.
  // The client socket is destroyed too, unless a refusal is still draining to it.
  end(decision: AuditRecord['decision'], reason: string): void {
    if (this.finished) return;
    this.finished = true;
    this.disarm();
    const upstream = this.upstream;
    upstream?.destroy();
    if (decision === 'allowed') this.socket.destroy();
    const record: AuditRecord = {
      time: new Date(this.started).toISOString(),
      client: this.client,
      name: this.name,
      port: this.port,
      ...(this.address !== undefined && { address: this.address }),
      decision,
      reason,
      ...(this.rule && { rule: this.rule.name }),
      ...(this.sni !== undefined && { sni: this.sni }),
      bytesUp: this.relaying ? upstream?.bytesWritten ?? 0 : 0,
      bytesDown: this.relaying ? upstream?.bytesRead ?? 0 : 0,
      durationMs: Math.max(0, this.ctx.now() - this.started),
    };
    this.ctx.audit(record);
  }

  // Destroys both sockets now (proxy shutting down).
  abort(reason: string): void {
    this.end(this.relaying ? 'allowed' : 'refused', reason);
    this.socket.destroy();
  }

  // One timer per phase: arming a new one cancels the last.
  private arm(ms: number, fire: () => void): void {
    this.disarm();
    this.timer = setTimeout(fire, ms);
  }

  // Cancels the phase timer.
  private disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
