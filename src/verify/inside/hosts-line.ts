// Each TLS bridge's name must resolve to the gateway inside the VM (an /etc/hosts line), or clients
// there cannot reach it by the name its certificate carries.

import dns from 'node:dns';
import type { VerifyManifest } from '../../formats/verify-manifest.ts';
import type { ProbeResult } from './result.ts';
import { deadline } from './deadline.ts';

export type Lookup = (name: string) => Promise<string[]>;

// The system resolver (getaddrinfo: /etc/hosts first), every address.
export const systemLookup: Lookup = async (name) =>
  (await dns.promises.lookup(name, { all: true, verbatim: true })).map((a) => a.address);

// One row per hosts line the manifest asks for.
export function hostsLine(hosts: VerifyManifest['hosts'], timeoutMs: number, lookup: Lookup = systemLookup): Promise<ProbeResult[]> {
  return Promise.all(
    hosts.map(async ({ name, address }) => {
      const started = performance.now();
      let measured: string;
      let ok = false;
      try {
        const addresses = await withTimeout(lookup(name), timeoutMs);
        measured = addresses.join(', ') || 'nothing';
        ok = addresses.length > 0 && addresses.every((a) => a === address);
      } catch (e) {
        measured = `does not resolve (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
      }
      return {
        group: 'hosts',
        probe: name,
        expected: address,
        measured,
        ok,
        ms: Math.round(performance.now() - started),
        ...(ok ? {} : { detail: `"${name}" resolves to ${measured} in the VM, not to the gateway ${address}: the hosts line is missing or wrong` }),
      };
    }),
  );
}

export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = deadline(() => reject(Object.assign(new Error('timed out'), { code: 'ETIMEOUT' })), ms);
    p.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e) => (clearTimeout(timer), reject(e)),
    );
  });
}
