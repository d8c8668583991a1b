// createLab: four linked network namespaces (host, vm, lan, wan) with services, DNS, hosts files
// and shares, for end-to-end tests of `enforce --backend nft` and `verify`. See README.md.

import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type Options as ExecaOptions, type ResultPromise } from 'execa';
import type { ChildProcess } from 'node:child_process';
import { PLAN, assertLabAddress, assertLabBindAddress } from './address-plan.ts';
import { LAB_BASE, destroyLabSync, sweepStaleLabs, type LabMarker } from './destroy-lab.ts';
import { writeNetnsHosts, writeNetnsResolvConf } from './etc-netns.ts';
import { releaseLab, trapLab } from './exit-trap.ts';
import { createLabCa, type LabCa, type LeafCert } from './lab-ca.ts';
import { mountShare, remountShare, sharesRoot, type ShareSpec, type SharesView } from './shares.ts';
import { SERVERS_DIR, startServerScript, type RunningService } from './start-service.ts';
import { ROLES, planTopology, type Role } from './topology.ts';

export type { Role } from './topology.ts';
export type { ShareSpec, SharesView } from './shares.ts';

export interface LabOptions {
  /** The VM's IPv4 address, in 192.168.64.0/24 (default 192.168.64.2). */
  vmAddress?: string;
  /** Extra addresses for the lan / wan namespaces, to put services on. */
  lanAddresses?: string[];
  wanAddresses?: string[];
  /** Extra /etc/hosts lines in the host namespace (merged over DEFAULT_HOST_HOSTS). */
  hostHosts?: Record<string, string>;
  /** /etc/hosts lines in the vm namespace (default: localhost only). */
  vmHosts?: Record<string, string>;
  /** Nameserver for every namespace's resolv.conf (default PLAN.wan.dns, 203.0.113.53). */
  resolver?: string;
  /** Put the gateway on a bridge `<id>-br` (like macOS's bridge100) with the vm veth as its port. */
  vmBridge?: boolean;
  /** Remove leftovers of crashed earlier runs first (default true; done once per process). */
  sweep?: boolean;
}

/** Names the host namespace resolves (through its /etc/hosts), for bridges with DNS-name targets. */
export const DEFAULT_HOST_HOSTS: Readonly<Record<string, string>> = {
  'vault.lab.test': PLAN.lan.services[0],
  'ha.lab.test': PLAN.lan.services[1],
  'web.lab.test': PLAN.wan.web,
};

export interface LabExecResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface LabExecOptions {
  input?: string;
  env?: Record<string, string>;
  cwd?: string;
  /** Default 10 000 ms; the command is killed after it. */
  timeoutMs?: number;
}

export interface LabService {
  name: string;
  role: Role;
  address: string;
  port: number;
  pid: number;
}

export interface LabTlsService extends LabService {
  certPem: string;
  /** base64 SHA-256 of the leaf's SubjectPublicKeyInfo (a pin). */
  spkiSha256: string;
  names: string[];
  ips: string[];
}

/** One line of a service's log: a TCP connect, a TLS handshake, or a DNS query. */
export interface ServiceHit {
  service: string;
  kind: 'connect' | 'handshake' | 'query' | 'datagram';
  from: string;
  fromPort: number;
  to: string;
  toPort: number;
  at: number;
  sni?: string | null;
  qname?: string;
  qtype?: number;
  rcode?: number;
  answers?: string[];
}

export type ProbeResult =
  | { ok: true; ms: number; banner?: string; reply?: string; authorized?: boolean; authorizationError?: string | null; spkiSha256?: string | null; subjectAltName?: string | null; rcode?: number; answers?: string[] }
  | { ok: false; ms: number; error: string; message?: string };

let swept = false;

// Builds a lab: namespaces, links, addresses, routes, forwarding, hosts/resolv.conf. Throws (after
// removing whatever it made) if any step fails.
export async function createLab(opts: LabOptions = {}): Promise<Lab> {
  const started = performance.now();
  if (opts.sweep !== false && !swept) {
    swept = true;
    sweepStaleLabs();
  }
  const id = `np${BigInt(`0x${randomBytes(4).toString('hex')}`).toString(36).padStart(5, '0').slice(-5)}`;
  const topology = planTopology(id, {
    vmAddress: opts.vmAddress ?? PLAN.vmSide.vm,
    lanAddresses: opts.lanAddresses ?? [],
    wanAddresses: opts.wanAddresses ?? [],
    vmBridge: opts.vmBridge ?? false,
  });
  const dir = join(LAB_BASE, id);
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const marker: LabMarker = { id, ownerPid: process.pid, created: new Date().toISOString(), namespaces: ROLES.map((r) => topology.ns[r]) };
  writeFileSync(join(dir, 'lab.json'), `${JSON.stringify(marker)}\n`);
  trapLab(id);
  try {
    await ip(['-batch', '-'], topology.rootBatch);
    await Promise.all(
      ROLES.map(async (role) => {
        const settings = Object.entries(topology.sysctls[role]).map(([k, v]) => `${k}=${v}`);
        await execa('ip', ['netns', 'exec', topology.ns[role], 'sysctl', '-q', '-w', ...settings]);
        await ip(['-n', topology.ns[role], '-batch', '-'], topology.addressBatch[role]);
      }),
    );
    await Promise.all(ROLES.map((role) => ip(['-n', topology.ns[role], '-batch', '-'], topology.routeBatch[role])));
    if (opts.vmBridge) await waitForwarding(topology.ns.host, topology.links.hostToVm);
    const resolver = assertLabAddress(opts.resolver ?? PLAN.wan.dns, 'resolver');
    for (const role of ROLES) writeNetnsResolvConf(topology.ns[role], [resolver]);
    writeNetnsHosts(topology.ns.host, { ...DEFAULT_HOST_HOSTS, ...opts.hostHosts });
    writeNetnsHosts(topology.ns.vm, { ...opts.vmHosts });
    writeNetnsHosts(topology.ns.lan, {});
    writeNetnsHosts(topology.ns.wan, {});
  } catch (error) {
    destroyLabSync(id);
    releaseLab(id);
    throw error;
  }
  const lab = new Lab(id, dir, topology.ns, topology.vmInterface, opts.vmAddress ?? PLAN.vmSide.vm);
  lab.timings.createMs = performance.now() - started;
  return lab;
}

// Waits until a bridge port forwards. The kernel applies a new veth carrier to the bridge port
// only on its next link-watch run (up to ~1 s later); until then the first ARP from the VM is lost.
async function waitForwarding(ns: string, port: string): Promise<void> {
  const deadline = performance.now() + 3000;
  while (performance.now() < deadline) {
    const r = await execa('bridge', ['-n', ns, '-j', 'link', 'show', 'dev', port], { reject: false });
    const state = (JSON.parse(String(r.stdout || '[]')) as Array<{ state?: string }>)[0]?.state;
    if (state === 'forwarding') return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`Bridge port "${port}" in ${ns} did not start forwarding within 3 s.`);
}

// Runs `ip` with a batch script on stdin; throws with the script when it fails.
async function ip(args: string[], input: string): Promise<void> {
  const r = await execa('ip', args, { input, reject: false });
  if (r.exitCode !== 0) throw new Error(`ip ${args.join(' ')} failed: ${r.stderr}\n--- input ---\n${input}`);
}

/** A running lab. Build one with createLab(); always call teardown() (an exit trap backs it up). */
export class Lab {
  readonly gateway = PLAN.vmSide.gateway;
  readonly gateway6 = PLAN.vmSide.gateway6;
  readonly subnet = PLAN.vmSide.subnet;
  readonly subnet6 = PLAN.vmSide.subnet6;
  readonly vmAddress6 = PLAN.vmSide.vm6;
  readonly plan = PLAN;
  /** Milliseconds spent in createLab and teardown. */
  readonly timings: { createMs?: number; teardownMs?: number } = {};
  readonly faults = {
    /** Makes a read-only share writable behind the policy's back. */
    remountShareRw: (name: string): void => remountShare(this.dir, name, 'rw'),
    /** Adds a share the policy never declared. */
    addUndeclaredShare: (spec: ShareSpec): string => mountShare(this.dir, spec),
  };

  private readonly services = new Map<string, RunningService>();
  private readonly known = new Set<string>();
  private readonly children = new Set<ChildProcess | ResultPromise>();
  private labCa: LabCa | undefined;
  private done = false;

  constructor(
    /** e.g. "np3k9x1"; namespaces are `<id>-host`, `<id>-vm`, `<id>-lan`, `<id>-wan`. */
    readonly id: string,
    /** The lab's own directory (logs, certs, shares); removed on teardown. */
    readonly dir: string,
    /** Namespace name per role. */
    readonly ns: Readonly<Record<Role, string>>,
    /** Host-namespace interface holding the gateway address (the stand-in for bridge100). */
    readonly vmInterface: string,
    readonly vmAddress: string,
  ) {}

  // Runs argv inside the role's namespace; never rejects on a non-zero exit (check exitCode).
  async exec(role: Role, argv: string[], opts: LabExecOptions = {}): Promise<LabExecResult> {
    const r = await execa('ip', ['netns', 'exec', this.ns[role], ...argv], {
      reject: false,
      timeout: opts.timeoutMs ?? 10_000,
      input: opts.input,
      env: opts.env,
      cwd: opts.cwd,
    });
    return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr), timedOut: r.timedOut };
  }

  // Runs a shell script inside the role's namespace (`sh -c script`).
  run(role: Role, script: string, opts: LabExecOptions = {}): Promise<LabExecResult> {
    return this.exec(role, ['sh', '-c', script], opts);
  }

  // Starts a long-running command in the role's namespace (an execa subprocess, killed on teardown).
  spawn(role: Role, argv: string[], opts: ExecaOptions = {}): ResultPromise {
    const child = execa('ip', ['netns', 'exec', this.ns[role], ...argv], { reject: false, ...opts }) as ResultPromise;
    this.children.add(child);
    void Promise.resolve(child).finally(() => this.children.delete(child));
    return child;
  }

  // A TCP listener that sends a banner (default "<name>\n"), echoes, and logs every connect.
  async startTcpService(role: Role, address: string, port: number, opts: { name?: string; banner?: string } = {}): Promise<LabService> {
    const name = this.serviceName(opts.name ?? `tcp-${address}-${port}`);
    const s = await this.start(role, 'tcp-server.mjs', { name, address: assertLabBindAddress(address), port, log: this.logPath(name), banner: opts.banner });
    return { name, role, address, port: s.port, pid: s.pid };
  }

  // A TLS listener with a leaf certificate from the lab CA for `names` and/or `ips` (default: the
  // listen address); logs connects and handshakes (with SNI).
  async startTlsService(
    role: Role,
    address: string,
    port: number,
    opts: { name?: string; names?: string[]; ips?: string[]; banner?: string; freshKey?: boolean } = {},
  ): Promise<LabTlsService> {
    const name = this.serviceName(opts.name ?? `tls-${address}-${port}`);
    const names = opts.names ?? [];
    const ips = opts.ips ?? (names.length === 0 ? [assertLabAddress(address)] : []);
    const leaf: LeafCert = this.caInstance().issue({ names, ips, freshKey: opts.freshKey });
    mkdirSync(join(this.dir, 'certs'), { recursive: true });
    const cert = join(this.dir, 'certs', `${name}.crt`);
    const key = join(this.dir, 'certs', `${name}.key`);
    writeFileSync(cert, leaf.certPem);
    writeFileSync(key, leaf.keyPem, { mode: 0o600 });
    const s = await this.start(role, 'tcp-server.mjs', {
      name,
      address: assertLabBindAddress(address),
      port,
      log: this.logPath(name),
      banner: opts.banner,
      tls: { cert, key },
    });
    return { name, role, address, port: s.port, pid: s.pid, certPem: leaf.certPem, spkiSha256: leaf.spkiSha256, names, ips };
  }

  // A UDP DNS responder answering A/AAAA from `map` (name → address or addresses), NXDOMAIN else;
  // names under a `silent` suffix are never answered (a resolver that stalls).
  async startDns(role: Role, address: string, map: Record<string, string | string[]>, opts: { name?: string; port?: number; silent?: string[] } = {}): Promise<LabService> {
    for (const value of Object.values(map)) for (const a of [value].flat()) assertLabAddress(a, 'DNS answer');
    const name = this.serviceName(opts.name ?? `dns-${address}`);
    const s = await this.start(role, 'dns-server.mjs', { name, address: assertLabBindAddress(address), port: opts.port ?? 53, log: this.logPath(name), map, silent: opts.silent ?? [] });
    return { name, role, address, port: s.port, pid: s.pid };
  }

  // A UDP listener that logs and echoes every datagram.
  async startUdpService(role: Role, address: string, port: number, opts: { name?: string } = {}): Promise<LabService> {
    const name = this.serviceName(opts.name ?? `udp-${address}-${port}`);
    const s = await this.start(role, 'udp-server.mjs', { name, address: assertLabBindAddress(address), port, log: this.logPath(name) });
    return { name, role, address, port: s.port, pid: s.pid };
  }

  // Waits until something in the role's namespace listens on address:port (TCP, or UDP with
  // {udp: true}); for processes you spawn yourself, e.g. socat bridges. Looks at sockets, sends nothing.
  async waitListening(role: Role, address: string, port: number, opts: { udp?: boolean; timeoutMs?: number } = {}): Promise<void> {
    assertLabBindAddress(address);
    const deadline = performance.now() + (opts.timeoutMs ?? 5000);
    const want = `${address.includes(':') ? `[${address}]` : address}:${port}`;
    while (performance.now() < deadline) {
      const r = await this.exec(role, ['ss', '-Hn', opts.udp ? '-lu' : '-lt']);
      if (r.stdout.split('\n').some((line) => line.split(/\s+/).includes(want))) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`Nothing listens on ${want} in the ${role} namespace after ${opts.timeoutMs ?? 5000} ms.`);
  }

  // Stops one service (its log stays readable).
  async stopService(name: string): Promise<void> {
    const s = this.services.get(name);
    if (!s) throw new Error(`No lab service "${name}".`);
    await killAndWait(s.child);
    this.services.delete(name);
  }

  // Everyone who reached the service so far: TCP connects, DNS queries, UDP datagrams.
  connections(name: string): ServiceHit[] {
    return this.hits(name).filter((h) => h.kind !== 'handshake');
  }

  // Completed TLS handshakes of a TLS service (with the SNI the client sent).
  handshakes(name: string): ServiceHit[] {
    return this.hits(name).filter((h) => h.kind === 'handshake');
  }

  // Every log line of a service.
  hits(name: string): ServiceHit[] {
    let text: string;
    try {
      text = readFileSync(this.logPath(name), 'utf8');
    } catch {
      if (!this.known.has(name)) throw new Error(`No lab service "${name}".`);
      return [];
    }
    // A line still being appended is not yet a hit; every complete line parses.
    return text
      .split('\n')
      .slice(0, -1)
      .map((l) => JSON.parse(l) as ServiceHit);
  }

  /** The lab CA: PEM text and a file path (created on first use). */
  get ca(): { certPem: string; path: string } {
    const certPem = this.caInstance().certPem;
    return { certPem, path: join(this.dir, 'certs', 'lab-ca.pem') };
  }

  // Issues a leaf certificate from the lab CA without starting a server (e.g. for a bridge's TLS).
  issueCert(opts: { names?: string[]; ips?: string[]; freshKey?: boolean }): LeafCert {
    return this.caInstance().issue(opts);
  }

  // Replaces the role's /etc/hosts lines (localhost is always kept).
  setHosts(role: Role, map: Record<string, string>): void {
    writeNetnsHosts(this.ns[role], map);
  }

  // Replaces the role's resolv.conf nameservers.
  setResolvers(role: Role, servers: string[]): void {
    writeNetnsResolvConf(this.ns[role], servers);
  }

  // Creates host folders and bind-mounts them under the shares root (ro ones read-only).
  shares(list: ShareSpec[]): SharesView {
    const hostDirs: Record<string, string> = {};
    mkdirSync(sharesRoot(this.dir), { recursive: true });
    for (const spec of list) hostDirs[spec.name] = mountShare(this.dir, spec);
    return { root: sharesRoot(this.dir), hostDirs };
  }

  /** The shares root (the VM's "/Volumes/My Shared Files"). */
  get sharesRoot(): string {
    return sharesRoot(this.dir);
  }

  // Connects over TCP from the role's namespace; ok with the banner read within 100 ms.
  probeTcp(role: Role, host: string, port: number, opts: { timeoutMs?: number } = {}): Promise<ProbeResult> {
    return this.probe(role, { kind: 'tcp', host: assertLabAddress(host, 'probe target'), port, timeoutMs: opts.timeoutMs });
  }

  // TLS handshake from the role's namespace; `authorized` says whether the chain and name check out
  // against `ca` (default: the lab CA).
  probeTls(role: Role, host: string, port: number, opts: { servername?: string; ca?: string; timeoutMs?: number } = {}): Promise<ProbeResult> {
    return this.probe(role, {
      kind: 'tls',
      host: assertLabAddress(host, 'probe target'),
      port,
      servername: opts.servername,
      ca: opts.ca ?? this.ca.certPem,
      timeoutMs: opts.timeoutMs,
    });
  }

  // Sends one UDP datagram from the role's namespace; ok when a reply came back (lab UDP services
  // echo), error ECONNREFUSED on an ICMP unreachable, ETIMEDOUT when silently dropped.
  probeUdp(role: Role, host: string, port: number, opts: { payload?: string; timeoutMs?: number } = {}): Promise<ProbeResult> {
    return this.probe(role, { kind: 'udp', host: assertLabAddress(host, 'probe target'), port, payload: opts.payload, timeoutMs: opts.timeoutMs });
  }

  // One DNS query over UDP from the role's namespace.
  probeDns(role: Role, server: string, name: string, opts: { type?: 'A' | 'AAAA'; port?: number; timeoutMs?: number } = {}): Promise<ProbeResult> {
    return this.probe(role, { kind: 'dns', server: assertLabAddress(server, 'DNS server'), name, type: opts.type ?? 'A', port: opts.port, timeoutMs: opts.timeoutMs });
  }

  // Kills every process in the lab, unmounts shares, deletes namespaces, /etc/netns entries and the
  // lab directory. Safe to call twice. Throws if something could not be removed.
  async teardown(): Promise<void> {
    if (this.done) return;
    this.done = true;
    const started = performance.now();
    await Promise.all([...[...this.services.values()].map((s) => killAndWait(s.child)), ...[...this.children].map((c) => killAndWait(c))]);
    this.services.clear();
    this.children.clear();
    const problems = destroyLabSync(this.id);
    releaseLab(this.id);
    this.timings.teardownMs = performance.now() - started;
    if (problems.length > 0) throw new Error(`Lab ${this.id} teardown left: ${problems.join('; ')}`);
  }

  // Starts a server script in the role's namespace and tracks it for teardown.
  private async start(role: Role, script: string, config: { name: string; address: string; port: number; log: string } & Record<string, unknown>) {
    if (this.done) throw new Error(`Lab ${this.id} is torn down.`);
    const s = await startServerScript(this.ns[role], script, config);
    this.services.set(config.name, s);
    this.known.add(config.name);
    return s;
  }

  // Runs servers/probe.mjs in the role's namespace and parses its one-line result.
  private async probe(role: Role, request: Record<string, unknown>): Promise<ProbeResult> {
    const timeoutMs = (request.timeoutMs as number | undefined) ?? 1500;
    const r = await this.exec(role, [process.execPath, join(SERVERS_DIR, 'probe.mjs'), JSON.stringify(request)], { timeoutMs: timeoutMs + 5000 });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    try {
      return JSON.parse(line) as ProbeResult;
    } catch {
      throw new Error(`Probe ${JSON.stringify(request.kind)} in ${role} printed no result (exit ${r.exitCode}): ${r.stderr}`);
    }
  }

  // The lab CA, made (and written to certs/lab-ca.pem) on first use.
  private caInstance(): LabCa {
    if (!this.labCa) {
      this.labCa = createLabCa(this.id);
      mkdirSync(join(this.dir, 'certs'), { recursive: true });
      writeFileSync(join(this.dir, 'certs', 'lab-ca.pem'), this.labCa.certPem);
    }
    return this.labCa;
  }

  // Checks a service name: safe as a file name and not already running.
  private serviceName(name: string): string {
    if (!/^[A-Za-z0-9._:-]+$/.test(name)) throw new Error(`Bad service name "${name}".`);
    if (this.services.has(name)) throw new Error(`Lab service "${name}" is already running.`);
    return name;
  }

  // The service's JSON-lines log file.
  private logPath(name: string): string {
    return join(this.dir, 'logs', `${name.replace(/:/g, '_')}.jsonl`);
  }
}

// SIGKILLs a child and resolves once it has exited (and so been reaped), or after 2 s.
function killAndWait(child: ChildProcess | ResultPromise): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 2000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGKILL');
  });
}

