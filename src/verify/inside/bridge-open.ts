// Each bridge must be open from the VM: TCP to gateway:listen connects, and a TLS bridge completes a
// handshake as its target's name with a certificate for that name (or the pinned key).

import net from 'node:net';
import tls from 'node:tls';
import { createHash } from 'node:crypto';
import type { VerifyManifest } from '../../formats/verify-manifest.ts';
import type { ProbeResult } from './result.ts';
import { deadline } from './deadline.ts';

type BridgeSpec = VerifyManifest['bridges'][number];

export interface BridgeOptions {
  gateway: string;
  timeoutMs: number;
  /** Trusted besides the system store: the lab's CA. */
  caPem?: string;
}

// One row per bridge.
export function bridgeOpen(bridges: readonly BridgeSpec[], options: BridgeOptions): Promise<ProbeResult[]> {
  return Promise.all(bridges.map((b) => (b.tls ? tlsBridge(b, options) : tcpBridge(b, options))));
}

function row(b: BridgeSpec, o: BridgeOptions, expected: string, measured: string, ok: boolean, ms: number, detail?: string): ProbeResult {
  return {
    group: 'bridges',
    probe: `${o.gateway}:${b.listen} (${b.name}${b.tls ? `, TLS as ${b.serverName}` : ''})`,
    expected,
    measured,
    ok,
    ms: Math.round(ms),
    ...(detail ? { detail } : {}),
  };
}

function tcpBridge(b: BridgeSpec, o: BridgeOptions): Promise<ProbeResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = net.connect({ host: o.gateway, port: b.listen });
    const timer = deadline(() => end('timeout'), o.timeoutMs);
    socket.once('connect', () => end());
    socket.once('error', (e: NodeJS.ErrnoException) => end(e.code ?? e.message));
    function end(error?: string): void {
      clearTimeout(timer);
      socket.destroy();
      const ms = performance.now() - started;
      if (error === undefined) resolve(row(b, o, 'open', 'open', true, ms));
      else resolve(row(b, o, 'open', `not open (${error})`, false, ms, `bridge "${b.name}" at ${o.gateway}:${b.listen} is not reachable from the VM (${error})`));
    }
  });
}

function tlsBridge(b: BridgeSpec, o: BridgeOptions): Promise<ProbeResult> {
  const started = performance.now();
  const ca = o.caPem ? [...tls.rootCertificates, o.caPem] : undefined;
  const sniAllowed = net.isIP(b.serverName) === 0;
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: o.gateway,
      port: b.listen,
      ...(sniAllowed ? { servername: b.serverName } : {}),
      ...(ca ? { ca } : {}),
      // With a pin the key is the trust anchor (self-signed internal services); without, the chain.
      rejectUnauthorized: b.pin === undefined,
      // The name is checked below, against serverName, not against the gateway address we dialled.
      checkServerIdentity: () => undefined,
    });
    const timer = deadline(() => end('handshake timed out'), o.timeoutMs);
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      const nameError = tls.checkServerIdentity(b.serverName, cert);
      if (nameError) return end(`certificate does not match "${b.serverName}": ${nameError.message}`);
      if (b.pin !== undefined) {
        const got = `sha256/${createHash('sha256').update(cert.pubkey ?? Buffer.alloc(0)).digest('base64')}`;
        if (got !== b.pin) return end(`certificate key ${got} does not match the pin ${b.pin}`);
      }
      end();
    });
    socket.once('error', (e: NodeJS.ErrnoException) => end(e.code ? `${e.code}: ${e.message}` : e.message));
    function end(error?: string): void {
      clearTimeout(timer);
      socket.destroy();
      const ms = performance.now() - started;
      if (error === undefined) resolve(row(b, o, 'open, TLS ok', 'open, TLS ok', true, ms));
      else resolve(row(b, o, 'open, TLS ok', 'failed', false, ms, `bridge "${b.name}" at ${o.gateway}:${b.listen} failed TLS as "${b.serverName}": ${error}`));
    }
  });
}
