// The egress core, one implementation behind both doors: once a door knows the name and port a
// client wants, the core matches the rules, resolves once on the host, checks every address,
// connects, follows the TLS handshake until the server's first encrypted record (every plaintext
// ClientHello checked), relays with backpressure, and writes the audit records: "open" when the
// tunnel starts relaying, the final one when it ends. Every path ends in exactly one final record
// and both sockets destroyed.

import type { Socket } from 'node:net';
import type { AuditRecord, ProxyConfig, ProxyRule } from '../formats/proxy-config.ts';
import { matchRule } from '../formats/match-rule.ts';
import { resolveChecked, type CheckedAddress, type Lookup } from './resolve-checked.ts';
import { DEFAULT_MAX_HELLO_RECORDS, HandshakeFollower } from './handshake-follower.ts';
import type { ClientHelloFacts } from './client-hello.ts';
import { printable } from '../net/host-name.ts';
import type { Cidr, IpBytes } from '../net/ip-address.ts';
import type { Injector } from '../inject/injector.ts';
import type { InjectAuditRecord } from '../inject/inject-audit.ts';

// Opens the upstream TCP connection to a checked address (net.connect; tests map lab addresses).
export type Connect = (options: { host: string; port: number; family: 4 | 6 }) => Socket;

export type DoorKind = 'connect' | 'transparent';

export interface CoreContext {
  config: ProxyConfig;
  deny: readonly Cidr[];
  /** The host's own addresses now. */
  hostAddresses: () => IpBytes[];
  lookup: Lookup;
  /** Takes one of a (client, rule) group's name-lookup slots; false when it holds them all. */
  takeLookupSlot: (group: string) => boolean;
  giveLookupSlot: (group: string) => void;
  connect: Connect;
  now: () => number;
  audit: (record: AuditRecord) => void;
  /** Credential injection, when the config has it: tunnels of injecting rules are handed to it. */
  injector?: Injector;
  /** Writes the injecting layer's own records (per request, WebSocket opens, refusals). */
  auditInject?: (record: InjectAuditRecord) => void;
}

/** The door's say on the first ClientHello: a refusal reason, or undefined to go on. */
export type FirstHelloCheck = (hello: ClientHelloFacts) => string | undefined | Promise<string | undefined>;

// A fatal TLS alert, access_denied (RFC 8446 §6.2), so a refused client's TLS library reports
// "access denied" instead of an unexplained reset.
export const TLS_ACCESS_DENIED = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x31]);
// How long a refused client gets to read its answer before the socket is destroyed.
const LINGER_MS = 1000;
// How much a refused client may still send while it lingers before it is cut off at once.
const DISCARD_BYTES = 65536;

export class Tunnel {
  readonly started: number;
  name = '';
  port = 0;
  rule: ProxyRule | undefined;
  private address: string | undefined;
  private sni: string | undefined;
  private upstream: Socket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  private finished = false;
  private relaying = false;
  /** CONNECT door before its 200: a refusal is an HTTP answer. */
  httpOpen = false;
  private spokeTls = false;
  private follower: HandshakeFollower | undefined;
  private pending: Buffer[] = [];
  /** Waiting on the door's judgement of the first hello (and, transparent, the connect). */
  private judging = false;
  /** performance.now() when a byte last moved (not the injected clock: only audit times use that). */
  private lastActive: number;

  constructor(readonly socket: Socket, readonly client: string, private readonly ctx: CoreContext, readonly door: DoorKind) {
    this.started = ctx.now();
    this.lastActive = performance.now();
    socket.on('error', (error: NodeJS.ErrnoException) =>
      this.end(this.relaying ? 'allowed' : 'refused', `client connection error (${error.code ?? error.message})`));
    socket.on('close', () => this.end(this.relaying ? 'allowed' : 'refused', this.relaying ? 'tunnel closed' : 'client closed before the tunnel was set up'));
    socket.on('data', () => { this.lastActive = performance.now(); });
    // A client that stops sending (FIN) before its hello is whole will never finish it: answer
    // now rather than hold its slot until a timeout. Once relaying, the FIN is passed on.
    socket.on('end', () => {
      this.clientEnded = true;
      if (this.finished || this.judging) return;
      if (this.relaying) {
        if (this.piped) return;
        this.flush();
        if (this.follower?.holding()) return this.close('client closed in the middle of a ClientHello');
        this.upstream?.end();
        return;
      }
      if (this.httpOpen) this.refuse('client closed before sending a complete request');
      else this.close('client closed before sending a complete ClientHello');
    });
  }

  private clientEnded = false;
  private piped = false;

  get config(): ProxyConfig {
    return this.ctx.config;
  }

  // Who shares this tunnel's slot budget: the client and the rule (a wildcard rule is one group
  // however many names it spans), or the client's connections still undecided.
  group(): string {
    return `${this.client} ${this.rule ? `rule ${this.rule.name}` : 'undecided'}`;
  }

  // Milliseconds since a byte last moved either way.
  idleFor(): number {
    return performance.now() - this.lastActive;
  }

  isFinished(): boolean {
    return this.finished;
  }

  // Matches the rules, resolves and checks the name, connects: true once the upstream answered.
  // Every refusal is answered and recorded here.
  async decide(name: string, port: number): Promise<boolean> {
    this.name = name;
    this.port = port;
    const match = matchRule(this.ctx.config.rules, name, port);
    if (!match.ok) return this.refuse(match.reason), false;
    this.rule = match.rule;
    const { lookup, deny, config } = this.ctx;
    // A client may hold only a few lookups at once per listed name pattern: names under a wildcard
    // whose DNS never answers cost that wildcard's slots, never another name's — not even an exact
    // name on the same egress line (the VM is one client; only a wildcard can make many names).
    const slot = `${this.client} ${match.rule.host}:${match.rule.port}`;
    if (!this.ctx.takeLookupSlot(slot)) return this.refuse(`too many name lookups in progress for rule "${match.rule.name}"`, 503), false;
    let resolved;
    try {
      resolved = await resolveChecked(name, lookup, deny, config.timeouts.connectMs, this.ctx.hostAddresses());
    } finally {
      this.ctx.giveLookupSlot(slot);
    }
    if (this.finished) return false;
    if (!resolved.ok) {
      this.address = resolved.address;
      this.refuse(resolved.reason, resolved.reason.startsWith('name did not') ? 502 : 403);
      return false;
    }
    return this.connectUpstream(resolved.addresses);
  }

  // Connects to the checked addresses in order until one answers (an unreachable IPv6 address
  // falls back to the IPv4 one, as getaddrinfo callers do) — never looking the name up again.
  private connectUpstream(addresses: CheckedAddress[]): Promise<boolean> {
    return new Promise((resolve) => {
      const failures: string[] = [];
      const attempt = (index: number): void => {
        const next = addresses[index];
        if (!next) {
          this.refuse(`could not connect: ${failures.join('; ')}`, 502);
          return resolve(false);
        }
        const { address, family } = next;
        const { connectMs } = this.ctx.config.timeouts;
        this.address = address;
        const upstream = this.ctx.connect({ host: address, port: this.port, family });
        this.upstream = upstream;
        let settled = false;
        const failed = (why: string): void => {
          if (settled) return;
          settled = true;
          upstream.destroy();
          if (this.finished) return resolve(false);
          failures.push(`${address} port ${this.port} ${why}`);
          attempt(index + 1);
        };
        upstream.on('error', (error: NodeJS.ErrnoException) => {
          const code = error.code ?? error.message;
          if (!settled) return failed(`(${code})`);
          if (this.upstream !== upstream) return;
          if (this.relaying) this.end('allowed', `upstream error (${code})`);
          else this.close(`upstream error before the ClientHello was relayed (${code})`);
        });
        this.arm(connectMs, () => failed(`(no answer within ${connectMs} ms)`));
        upstream.once('connect', () => {
          if (settled) return;
          settled = true;
          this.disarm();
          resolve(!this.finished);
        });
      };
      attempt(0);
    });
  }

  // Reads the client's TLS from `first` on: holds every byte of a ClientHello until it is whole and
  // checked; the first hello goes to the door's `check` (which may decide and connect), later
  // ones to the follower's own checks. Relays what passed once an upstream exists.
  follow(first: Buffer, check: FirstHelloCheck): void {
    this.follower = new HandshakeFollower({ maxHelloBytes: this.ctx.config.maxHelloBytes, maxHelloRecords: DEFAULT_MAX_HELLO_RECORDS });
    const { helloMs } = this.ctx.config.timeouts;
    this.arm(helloMs, () => this.close(`no complete TLS ClientHello within ${helloMs} ms`));
    this.check = check;
    this.socket.on('data', this.onClientData);
    if (first.length > 0) this.onClientData(first);
    if (!this.finished && !this.judging) this.socket.resume();
  }

  private check: FirstHelloCheck = () => undefined;

  private readonly onClientData = (chunk: Buffer): void => {
    if (this.finished || !this.follower) return;
    this.pending.push(chunk);
    const step = this.follower.client(chunk);
    if (step.status === 'refused') {
      this.spokeTls ||= step.tls;
      return this.close(step.reason);
    }
    this.spokeTls = true;
    if (step.hello) return void this.judge(step.hello);
    if (this.relaying) {
      // A second hello in progress must be whole within helloMs too.
      if (this.follower.holding()) { if (!this.timer) this.arm(this.ctx.config.timeouts.helloMs, () => this.close('second ClientHello not complete in time')); }
      else this.disarm();
    }
    this.flush();
  };

  // Judges the first hello (the door's check, which may resolve and connect), then starts relaying.
  private async judge(hello: ClientHelloFacts): Promise<void> {
    this.disarm();
    this.judging = true;
    this.socket.pause();
    if (hello.sni !== undefined) this.sni = printable(hello.sni, 253);
    // The follower has already checked the hello is whole; everything the client sent is
    // pending until the door agrees.
    const first = this.check ?? (() => undefined);
    const refusal = await first(hello);
    if (this.finished) return;
    if (refusal !== undefined) return this.close(refusal);
    if (!this.upstream) return this.close('no upstream connection');
    this.judging = false;
    if (this.rule && this.ctx.injector?.injects(this.rule.name)) return this.handOff();
    this.startRelay();
  }

  // An injecting rule's tunnel: the injecting layer terminates the client's TLS (the checked hello
  // included) and speaks TLS to the server over the checked connection; this tunnel keeps only its
  // records ("open" now, the final one when the layer ends).
  private handOff(): void {
    this.relaying = true;
    this.piped = true;
    this.ctx.audit({ ...this.record('allowed', 'tunnel opened (credential injection)'), event: 'open' });
    this.socket.off('data', this.onClientData);
    const hello = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [];
    void this.ctx.injector!.run({
      client: this.socket, hello, name: this.name, port: this.port, upstream: this.upstream!, rule: this.rule!.name,
      audit: (record) => this.ctx.auditInject?.(record), stallMs: this.ctx.config.timeouts.stallMs,
    }).then((reason) => this.end('allowed', `injected tunnel: ${reason}`));
  }

  // Forwards the client's checked bytes, unless a ClientHello is still incomplete.
  private flush(): void {
    const upstream = this.upstream;
    if (!upstream || !this.relaying || this.judging || this.follower?.holding() || this.pending.length === 0) return;
    const bytes = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [];
    if (!upstream.write(bytes)) {
      this.socket.pause();
      this.watchStall('the server');
      upstream.once('drain', () => { if (!this.finished && !this.judging) this.socket.resume(); });
    }
  }

  // Starts relaying: the "open" record, the server's side watched until it encrypts, idle and
  // stall timers.
  private startRelay(): void {
    const upstream = this.upstream!;
    const socket = this.socket;
    this.relaying = true;
    this.ctx.audit({ ...this.record('allowed', 'tunnel opened'), event: 'open' });
    // Registered before pipe's own listener: a refusal lands before the chunk is passed on.
    const onServerData = (chunk: Buffer): void => {
      this.lastActive = performance.now();
      const follower = this.follower!;
      if (follower.done()) return;
      const step = follower.server(chunk);
      if (step.status === 'refused') return this.close(step.reason);
      if (follower.done()) this.encrypted();
    };
    upstream.on('data', onServerData);
    upstream.pipe(socket);
    // Every byte of the tunnel passes through the client socket (read up, written down), so one
    // inactivity timer on it sees traffic in both directions.
    const { idleMs } = this.ctx.config.timeouts;
    socket.setTimeout(idleMs, () => this.end('allowed', `idle for ${idleMs} ms`));
    upstream.on('pause', () => { if (socket.writableNeedDrain) this.watchStall('the client'); });
    socket.on('pause', () => { if (upstream.writableNeedDrain) this.watchStall('the server'); });
    socket.on('drain', () => this.clearStall());
    upstream.on('drain', () => this.clearStall());
    this.flush();
    if (this.clientEnded) {
      if (this.follower!.holding()) return this.close('client closed in the middle of a ClientHello');
      upstream.end();
    }
    socket.resume();
  }

  // The server encrypts from here on: the client's side is piped without looking.
  private encrypted(): void {
    if (this.follower!.holding()) return this.close('ClientHello incomplete when the server began encrypting');
    this.flush();
    this.disarm();
    this.socket.off('data', this.onClientData);
    this.piped = true;
    if (this.clientEnded) this.upstream!.end();
    else this.socket.pipe(this.upstream!);
  }

  // A peer that stops reading what it is sent holds a slot: cut it after stallMs.
  private watchStall(who: string): void {
    if (this.stallTimer || this.finished) return;
    const { stallMs } = this.ctx.config.timeouts;
    this.stallTimer = setTimeout(() => this.end(this.relaying ? 'allowed' : 'refused', `${who} stopped reading for ${stallMs} ms`), stallMs);
  }

  private clearStall(): void {
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
  }

  // Refuses: before a CONNECT's 200 an HTTP status with a one-line reason, otherwise close().
  refuse(reason: string, status = 403): void {
    if (this.finished) return;
    if (!this.httpOpen) return this.close(reason);
    const text = { 403: 'Forbidden', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' }[status] ?? 'Forbidden';
    const body = `${reason}\n`;
    this.socket.removeAllListeners('data');
    this.discard(); // whatever else the client sends while the answer drains
    this.socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    this.linger();
    this.end('refused', reason);
  }

  // Refuses once HTTP is over (or never was): a TLS alert when the client spoke TLS, and close.
  close(reason: string): void {
    if (this.finished) return;
    if (this.socket.writable) {
      if (this.spokeTls) this.socket.end(TLS_ACCESS_DENIED);
      else this.socket.end();
    }
    this.linger();
    this.socket.removeAllListeners('data');
    this.socket.unpipe();
    this.discard();
    this.end('refused', reason);
  }

  // Reads and drops what a refused client still sends while its answer drains, up to a bound: a
  // hostile client streaming a huge hello must not cost the proxy a read per chunk for a second.
  private discard(): void {
    let dropped = 0;
    this.socket.on('data', (chunk: Buffer) => {
      dropped += chunk.length;
      if (dropped > DISCARD_BYTES) this.socket.destroy();
    });
    this.socket.resume();
  }

  // Gives a refused client LINGER_MS to read its answer, then destroys the socket.
  private linger(): void {
    const linger = setTimeout(() => this.socket.destroy(), LINGER_MS);
    this.socket.once('close', () => clearTimeout(linger));
  }

  // The record this connection would write now.
  private record(decision: AuditRecord['decision'], reason: string): AuditRecord {
    const upstream = this.upstream;
    return {
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
      ...(this.door !== 'connect' && { door: this.door }),
    };
  }

  // Ends the connection for good: one final audit record, every timer cleared, upstream
  // destroyed. The client socket is destroyed too, unless a refusal is still draining to it.
  // A tunnel that relayed and is cut by a check still ends "refused": its last bytes were not.
  end(decision: AuditRecord['decision'], reason: string): void {
    if (this.finished) return;
    this.finished = true;
    this.disarm();
    this.clearStall();
    this.upstream?.destroy();
    if (decision === 'allowed') this.socket.destroy();
    this.ctx.audit(this.record(decision, reason));
  }

  // Destroys both sockets now (proxy shutting down, or the slot is needed for another client).
  abort(reason: string): void {
    this.end(this.relaying ? 'allowed' : 'refused', reason);
    this.socket.destroy();
  }

  // One timer per phase: arming a new one cancels the last.
  arm(ms: number, fire: () => void): void {
    this.disarm();
    this.timer = setTimeout(fire, ms);
  }

  // Cancels the phase timer.
  disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
