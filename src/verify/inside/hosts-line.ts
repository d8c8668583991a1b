// Each TLS bridge's name must resolve to the gateway inside the VM (an /etc/hosts line), or clients
// there cannot reach it by the name its certificate carries.

import type { VerifyManifest } from '../manifest.ts';
import type { ProbeResult } from './result.ts';
import { deadline } from './deadline.ts';
import { systemLookup, type Lookup } from './system-lookup.ts';

// One row per hosts line the manifest asks for.
export function hostsLine(hosts: VerifyManifest['hosts'], timeoutMs: number, lookup: Lookup = systemLookup): Promise<ProbeResult[]> {
  return Promise.all(
    hosts.map(async ({ name, address }) => {
      const started = performance.now();
      let measured: string;
      let ok = false;
      try {
        const addresses = await withTimeout(lookup(name, timeoutMs), lookupBound(timeoutMs));
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

/**
 * The longest a lookup may take in all: systemLookup waits `timeoutMs` for its child to start and
 * as long again for the answer, and ends itself; this bound is for a lookup that does not.
 */
export function lookupBound(timeoutMs: number): number {
  return 2 * timeoutMs + 100;
}

// Rejects with code ETIMEOUT when `p` has not settled within `ms`.
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = deadline(() => reject(Object.assign(new Error('timed out'), { code: 'ETIMEOUT' })), ms);
    p.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e) => (clearTimeout(timer), reject(e)),
    );
  });
}
