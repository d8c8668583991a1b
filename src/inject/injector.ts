// What the egress core asks when a tunnel's rule injects: built once when the proxy starts — every
// secret read (all failures at once, each naming its item), the CA loaded or made, one plan per
// rule — and then run for each injected tunnel on the upstream connection the core checked.
// `reload` reads the sources again (a file changed, or the supervisor's SIGHUP): new tunnels get
// the new values; a source that fails then keeps the value read before.

import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { InjectConfig } from '../formats/inject-config.ts';
import { loadOrCreateCa } from './ca-store.ts';
import { certificateAuthority } from './certificate-authority.ts';
import { readSecrets } from './read-secret.ts';
import { parseTemplate } from '../formats/header-template.ts';
import { injectionPlan, type InjectionPlan } from './injection-plan.ts';
import { secretNeedles } from './http/secret-scrubber.ts';
import { runInjectingTunnel } from './injecting-tunnel.ts';
import type { InjectAuditRecord } from './inject-audit.ts';

export interface Injector {
  /** Whether the rule of this name adds a secret. */
  injects(rule: string): boolean;
  /** Runs one injected tunnel over `upstream` (TCP, connected to a checked address); resolves with the reason it ended. */
  run(o: { client: Duplex; hello: Buffer; name: string; port: number; upstream: Socket; rule: string; audit: (r: InjectAuditRecord) => void; stallMs: number }): Promise<string>;
  /** Reads every source again; what changed and what failed, by secret name (never a value). */
  reload(): Promise<SecretReload>;
  /** The files the secrets are read from (watched for changes). */
  readonly files: readonly string[];
}

export interface SecretReload {
  /** Secrets whose value is new. */
  changed: string[];
  /** Sources that failed: the message and hint name the item; the value read before stays. */
  failures: Array<{ name: string; message: string; hint: string }>;
}

export interface InjectorOptions {
  vm: string;
  ownerUid: number;
  env: NodeJS.ProcessEnv;
  idleMs: number;
  /** Roots to verify servers against instead of Node's (the lab's CA in tests); default Node's own. */
  upstreamCa?: string[];
}

// Reads the secrets and the CA; throws one Error listing every source that failed.
export async function createInjector(config: InjectConfig, options: InjectorOptions): Promise<Injector> {
  const { values, failures } = await readSecrets(config.secrets, { ownerUid: options.ownerUid, env: options.env });
  if (failures.length > 0) {
    // Why refuse to start: a proxy without the credential would send the placeholder, and the
    // owner would see a service failing instead of the reason.
    throw new Error(failures.map((f) => `${f.message} ${f.hint}`).join('\n'));
  }
  const stored = loadOrCreateCa(config.caDir, config.caNames, options.vm, options.ownerUid);
  const ca = certificateAuthority(stored.certPem, stored.keyPem, config.caNames);
  const current = new Map(values);
  // Every value ever read is masked in what comes back: an upstream may still reflect an old one.
  const masked = new Set(values.values());
  let { plans, needles } = build(config, current, masked);
  return {
    injects: (rule) => plans.has(rule),
    files: config.secrets.flatMap((s) => (s.source.kind === 'file' ? [s.source.path] : [])),
    async reload() {
      const again = await readSecrets(config.secrets, { ownerUid: options.ownerUid, env: options.env });
      const changed = [...again.values].filter(([name, value]) => current.get(name) !== value).map(([name]) => name);
      if (changed.length > 0) {
        for (const name of changed) {
          current.set(name, again.values.get(name)!);
          masked.add(again.values.get(name)!);
        }
        ({ plans, needles } = build(config, current, masked));
      }
      return { changed, failures: again.failures };
    },
    run({ client, hello, name, port, upstream, rule, audit, stallMs }) {
      return runInjectingTunnel({
        client, hello, name, port, leaf: ca.leafFor(name), plan: plans.get(rule)!, needles, idleMs: options.idleMs, stallMs, audit,
        // Full verification against the host's trust store (rejectUnauthorized is Node's default).
        connectUpstream: () => tlsConnect({ socket: upstream, servername: name, ALPNProtocols: ['http/1.1'], ...(options.upstreamCa && { ca: options.upstreamCa }) }),
      });
    },
  };
}

// One plan per injecting rule from the values, and the needles of every value to mask.
function build(config: InjectConfig, values: ReadonlyMap<string, string>, masked: ReadonlySet<string>): { plans: Map<string, InjectionPlan>; needles: Buffer[] } {
  const plans = new Map<string, InjectionPlan>();
  for (const rule of config.rules) {
    const inject = rule.headers.map(({ header, template }) => {
      const parsed = parseTemplate(template);
      if (!parsed.ok) throw new Error(`proxy config: the template of "${header}" is malformed`);
      return { header, template: parsed.parts };
    });
    const plan = injectionPlan({ name: rule.name, ...(inject.length ? { inject } : {}), ...(rule.websocketToken !== undefined ? { websocketToken: rule.websocketToken } : {}) }, values);
    if (plan) plans.set(rule.name, plan);
  }
  return { plans, needles: secretNeedles([...masked]) };
}
