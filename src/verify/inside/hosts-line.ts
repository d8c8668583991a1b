// Each TLS bridge's name must resolve to the gateway inside the VM (an /etc/hosts line), or clients
// there cannot reach it by the name its certificate carries.

import type { VerifyManifest } from '../../formats/verify-manifest.ts';
import type { ProbeResult } from './result.ts';
import { deadline } from './deadline.ts';
import { systemLookup, type Lookup } from './system-lookup.ts';

// One row per hosts line the manifest asks for.
export function hostsLine(hosts: VerifyManifest['hosts'], timeoutMs: number, lookup?: Lookup): Promise<ProbeResult[]> {
  return Promise.all(
    hosts.map(async ({ name, address }) => {
      const started = performance.now();
      let measured: string;
      let ok = false;
      let detail = '';
      try {
        const addresses = await ask(name, timeoutMs, lookup);
        measured = addresses.join(', ') || 'nothing';
        ok = addresses.length > 0 && addresses.every((a) => a === address);
        detail = `"${name}" resolves to ${measured} in the VM, not to the gateway ${address}: the hosts line is missing or wrong`;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        measured = code === 'ENOTRUN' ? 'NOT RUN' : `does not resolve (${code ?? (e as Error).message})`;
        detail =
          code === 'ENOTRUN'
            ? `"${name}" could not be looked up in the VM (${(e as Error).message}): whether its hosts line holds is unknown`
            : `"${name}" does not resolve in the VM (${code ?? (e as Error).message}), so not to the gateway ${address}: the hosts line is missing or wrong`;
      }
      return {
        group: 'hosts',
        probe: name,
        expected: address,
        measured,
        ok,
        ms: Math.round(performance.now() - started),
        ...(ok ? {} : { detail }),
      };
    }),
  );
}

// Asks the system resolver (which ends by itself: its own deadline, and ENOTRUN when its child
// cannot start), or a lookup a test passed in, bounded here.
export function ask(name: string, timeoutMs: number, lookup?: Lookup): Promise<string[]> {
  return lookup ? withTimeout(lookup(name, timeoutMs), timeoutMs) : systemLookup(name, timeoutMs);
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
