// Named egress, from inside the VM: each listed name through the proxy completes a TLS handshake
// as itself; an unlisted name is refused; a listed name with another TLS server name is cut off
// before any handshake; and each listed name's address, dialled without the proxy, stays blocked.
// The unlisted and mismatched names carry this run's nonce, so the host can find exactly these
// attempts in the proxy's audit log (the VM's word alone proves nothing).

import net from 'node:net';
import tls from 'node:tls';
import type { VerifyManifest } from '../../formats/verify-manifest.ts';
import type { Endpoint, ProbeResult } from './result.ts';
import type { TcpScanner } from './tcp-scanner.ts';
import { mustBeBlocked } from './must-be-blocked.ts';
import { deadline } from './deadline.ts';

type Egress = NonNullable<VerifyManifest['egress']>;

export interface EgressProxyOptions {
  /** Names the probe invents for this run carry it: np-<nonce>.unlisted.invalid, np-<nonce>.sni.invalid. */
  nonce: string;
  timeoutMs: number;
  caPem?: string;
  /** Addresses the host resolved for each listed name (the VM has no DNS). */
  resolved: Record<string, string[]>;
}

// The names a run's refused attempts use: the host looks for exactly these in the audit log.
export function probeNames(nonce: string): { unlisted: string; sni: string } {
  return { unlisted: `np-${nonce}.unlisted.invalid`, sni: `np-${nonce}.sni.invalid` };
}

// Every row of the group; none when the policy lists no egress.
export async function egressProxy(egress: Egress | undefined, scanner: TcpScanner, o: EgressProxyOptions): Promise<ProbeResult[]> {
  if (!egress) return [];
  const exact = egress.names.filter((n) => !n.wildcard);
  const names = probeNames(o.nonce);
  const rows: ProbeResult[] = [];
  // One at a time: the proxy's connection cap is the owner's, and the audit order stays readable.
  for (const n of exact) rows.push(await throughProxy(egress.proxy, n, n.host, o));
  for (const n of egress.names.filter((x) => x.wildcard)) {
    rows.push({ ...row(`${n.host}:${n.port} (${n.rule}) through the proxy`, 'TLS ok', 'not probed', true, 0, `"${n.host}" is a wildcard: no single name stands for it, so it is not probed`), probed: false });
  }
  rows.push(await unlisted(egress.proxy, names.unlisted, o));
  if (exact[0]) rows.push(await throughProxy(egress.proxy, exact[0], names.sni, o));
  const endpoints: Array<Endpoint & { label: string }> = [];
  for (const n of exact) for (const a of o.resolved[n.host] ?? []) endpoints.push({ host: a, port: n.port, label: `${n.host} (${n.rule})` });
  const direct = await mustBeBlocked('proxy', endpoints, scanner, (e) => `${e.label} at ${e.host}:${e.port} is reachable directly from the VM, around the egress proxy`);
  return [...rows, ...direct.map((r) => ({ ...r, probe: `${r.probe} without the proxy` }))];
}

function row(probe: string, expected: string, measured: string, ok: boolean, ms: number, detail?: string): ProbeResult {
  return { group: 'proxy', probe, expected, measured, ok, ms: Math.round(ms), ...(detail ? { detail } : {}) };
}

// Sends CONNECT name:port and reads the status line; resolves the socket when the proxy said 200.
function connect(proxy: Egress['proxy'], name: string, port: number, timeoutMs: number): Promise<{ socket?: net.Socket; status: string }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: proxy.host, port: proxy.port });
    let head = '';
    const timer = deadline(() => done('no answer (timeout)'), timeoutMs);
    socket.once('connect', () => socket.write(`CONNECT ${name}:${port} HTTP/1.1\r\nHost: ${name}:${port}\r\n\r\n`));
    socket.on('data', (d: Buffer) => {
      head += d.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 'not HTTP';
      if (status === '200') {
        clearTimeout(timer);
        socket.removeAllListeners('data');
        // Whatever came after the head belongs to the tunnel; a proxy sends nothing there.
        resolve({ socket, status });
      } else {
        const reason = head.slice(end + 4).trim().split('\n')[0];
        done(`${status}${reason ? ` ${reason}` : ''}`);
      }
    });
    socket.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
    socket.once('close', () => done(head ? 'closed' : 'closed before an answer'));
    function done(status: string): void {
      clearTimeout(timer);
      socket.destroy();
      resolve({ status });
    }
  });
}

// CONNECT to a listed name, then TLS with `sni`: its own name must handshake, any other must not.
async function throughProxy(proxy: Egress['proxy'], n: Egress['names'][number], sni: string, o: EgressProxyOptions): Promise<ProbeResult> {
  const started = performance.now();
  const honest = sni === n.host;
  const probe = honest ? `${n.host}:${n.port} (${n.rule}) through the proxy` : `${n.host}:${n.port} through the proxy, TLS as ${sni}`;
  const expected = honest ? 'TLS ok' : 'refused';
  const opened = await connect(proxy, n.host, n.port, o.timeoutMs);
  if (!opened.socket) {
    const ms = performance.now() - started;
    return honest
      ? row(probe, expected, `CONNECT ${opened.status}`, false, ms, `the proxy did not open a tunnel to the listed name ${n.host}:${n.port} (${opened.status})`)
      : row(probe, expected, `CONNECT ${opened.status}`, false, ms, `the proxy refused the CONNECT to the listed name ${n.host}:${n.port} (${opened.status}), so the TLS name check was not reached`);
  }
  const handshake = await new Promise<string | undefined>((resolve) => {
    const ca = o.caPem ? [...tls.rootCertificates, o.caPem] : undefined;
    const t = tls.connect({ socket: opened.socket!, servername: sni, ...(ca ? { ca } : {}), checkServerIdentity: () => undefined });
    const timer = deadline(() => end('handshake timed out'), o.timeoutMs * 2);
    t.once('secureConnect', () => {
      const problem = tls.checkServerIdentity(n.host, t.getPeerCertificate());
      end(problem ? `certificate does not match "${n.host}": ${problem.message}` : undefined);
    });
    t.once('error', (e: NodeJS.ErrnoException) => end(e.code ?? e.message));
    t.once('close', () => end('closed before the handshake'));
    function end(error: string | undefined): void {
      clearTimeout(timer);
      if (error === undefined) {
        // A clean close, so the server sees our Finished (TLS 1.3) and the proxy logs a whole tunnel.
        t.end();
        setTimeout(() => t.destroy(), 500).unref();
      } else {
        t.destroy();
        opened.socket!.destroy();
      }
      resolve(error);
    }
  });
  const ms = performance.now() - started;
  if (honest) {
    return handshake === undefined
      ? row(probe, expected, 'TLS ok', true, ms)
      : row(probe, expected, `failed (${handshake})`, false, ms, `the listed name ${n.host}:${n.port} does not work through the proxy: ${handshake}`);
  }
  return handshake === undefined
    ? row(probe, expected, 'TLS HANDSHAKE COMPLETED', false, ms, `the proxy let a tunnel to ${n.host} carry TLS for "${sni}": the server name is not checked`)
    : row(probe, expected, `cut off (${handshake})`, true, ms);
}

// An unlisted name: the proxy must answer CONNECT with a refusal.
async function unlisted(proxy: Egress['proxy'], name: string, o: EgressProxyOptions): Promise<ProbeResult> {
  const started = performance.now();
  const opened = await connect(proxy, name, 443, o.timeoutMs);
  opened.socket?.destroy();
  const ms = performance.now() - started;
  const probe = `${name}:443 (unlisted) through the proxy`;
  if (opened.socket) return row(probe, 'refused', 'CONNECT 200', false, ms, `the proxy opened a tunnel to the unlisted name ${name}`);
  const refused = /^4\d\d/.test(opened.status);
  return row(probe, 'refused', `CONNECT ${opened.status}`, refused, ms, refused ? undefined : `the proxy did not refuse the unlisted name ${name} with a 4xx (${opened.status}): is it running?`);
}
