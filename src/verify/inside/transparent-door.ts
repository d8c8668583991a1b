// The transparent door, from inside the VM with no proxy settings: each exact listed name,
// dialled on the gateway at its own port as the name resolves there, completes a TLS handshake as
// itself (certificate checked); a TLS server name invented for this run (np-<nonce>.door.invalid)
// is cut off before any handshake. The host then finds exactly these attempts in the audit log
// with door "transparent".

import tls from 'node:tls';
import type { VerifyManifest } from '../../formats/verify-manifest.ts';
import type { ProbeResult } from './result.ts';
import { deadline } from './deadline.ts';

type Egress = NonNullable<VerifyManifest['egress']>;

export interface TransparentDoorOptions {
  gateway: string;
  nonce: string;
  timeoutMs: number;
  caPem?: string;
}

// The TLS server name a run's refused door attempt uses: the host looks for it in the audit log.
export function doorProbeName(nonce: string): string {
  return `np-${nonce}.door.invalid`;
}

// Every row; none without doors.
export async function transparentDoor(egress: Egress | undefined, o: TransparentDoorOptions): Promise<ProbeResult[]> {
  if (!egress?.doors) return [];
  const doorPorts = new Set(egress.doors.ports);
  const exact = egress.names.filter((n) => !n.wildcard && doorPorts.has(n.port));
  const rows: ProbeResult[] = [];
  // One at a time, like the proxy rows: the audit order stays readable.
  for (const n of exact) rows.push(await handshake(n.host, n.port, n.host, `${n.host}:${n.port} (${n.rule}) through the transparent door`, o));
  const first = exact[0]?.port ?? egress.doors.ports[0];
  if (first !== undefined) {
    const name = doorProbeName(o.nonce);
    rows.push(await handshake(undefined, first, name, `${o.gateway}:${first} with TLS name ${name} (unlisted) through the transparent door`, o));
  }
  return rows;
}

// TLS to the gateway's `port` with `sni`; `listed` is the name whose certificate must come back,
// or undefined when the door must cut the connection off.
function handshake(listed: string | undefined, port: number, sni: string, probe: string, o: TransparentDoorOptions): Promise<ProbeResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const ca = o.caPem ? [...tls.rootCertificates, o.caPem] : undefined;
    const t = tls.connect({ host: o.gateway, port, servername: sni, ...(ca ? { ca } : {}), checkServerIdentity: () => undefined });
    const timer = deadline(() => end('handshake timed out'), o.timeoutMs * 2);
    t.once('secureConnect', () => {
      const problem = listed === undefined ? undefined : tls.checkServerIdentity(listed, t.getPeerCertificate());
      end(problem ? `certificate does not match "${listed}": ${problem.message}` : undefined);
    });
    t.once('error', (e: NodeJS.ErrnoException) => end(e.code ?? e.message));
    t.once('close', () => end('closed before the handshake'));
    let ended = false;
    function end(error: string | undefined): void {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      if (error === undefined) {
        t.end();
        setTimeout(() => t.destroy(), 500).unref();
      } else {
        t.destroy();
      }
      const ms = Math.round(performance.now() - started);
      const base = { group: 'proxy', probe, ms };
      if (listed !== undefined) {
        resolve(error === undefined
          ? { ...base, expected: 'TLS ok', measured: 'TLS ok', ok: true }
          : { ...base, expected: 'TLS ok', measured: `failed (${error})`, ok: false, detail: `the listed name ${listed}:${port} does not work through the transparent door: ${error}` });
      } else {
        resolve(error === undefined
          ? { ...base, expected: 'refused', measured: 'TLS HANDSHAKE COMPLETED', ok: false, detail: `the transparent door completed TLS for the unlisted name "${sni}"` }
          : { ...base, expected: 'refused', measured: `cut off (${error})`, ok: true });
      }
    }
  });
}
