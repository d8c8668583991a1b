// Credential injection, from inside the VM (the VM holds placeholders only): for each injected
// name, a cheap authenticated request through the proxy, with the placeholder where the client
// puts its credential, must be accepted by the upstream (the proxy put the real one in), over TLS
// that only our CA vouches for; each listed name without injection must NOT be our CA's (the
// tunnel is end to end, so a placeholder sent there reaches the server as sent); with an echo
// server (the lab), the placeholder sent to it must come back unchanged. Node built-ins only.

import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import type { VerifyManifest } from '../../formats/verify-manifest.ts';
import type { ProbeResult } from './result.ts';
import { deadline } from './deadline.ts';

type Inject = NonNullable<VerifyManifest['inject']>;
type Proxy = NonNullable<VerifyManifest['egress']>['proxy'];

export interface InjectionOptions {
  /** The proxy's CA (proxy-ca.pem), sent in by the host: the only root for injected names. */
  proxyCaPem?: string;
  /** Trusted besides the system store for the plain names and the echo (the lab's CA). */
  caPem?: string;
  /** A request per injected name, replacing the manifest's (or standing in where it has none): host → "METHOD/path". */
  requests?: Record<string, string>;
  /** A listed, non-injected name that reflects requests (the lab's echo server): "host:port/path". */
  echo?: string;
  timeoutMs: number;
}

// Every row of the injection checks; none when the policy injects nothing.
export async function injectionProbes(inject: Inject | undefined, proxy: Proxy | undefined, o: InjectionOptions): Promise<ProbeResult[]> {
  if (!inject) return [];
  if (!proxy) return [row('credential injection', 'checked', 'NOT RUN', false, 0, 'the manifest lists injection but no egress proxy')];
  const rows: ProbeResult[] = [];
  for (const u of inject.unprobed) rows.push({ ...row(`${u.host} (${u.rule}) with the placeholder`, 'accepted upstream', 'not probed', true, 0, `not probed: ${u.why}`), probed: false });
  // One at a time, like the proxy rows: the proxy's connection cap is the owner's.
  for (const r of inject.requests) rows.push(await injected(proxy, r, o));
  for (const w of inject.websockets ?? []) rows.push(await gateway(proxy, w, o));
  for (const p of inject.plain) rows.push(await plainName(proxy, p, o));
  if (o.echo !== undefined) rows.push(await echoed(proxy, o.echo, inject.placeholders, o));
  return rows;
}

function row(probe: string, expected: string, measured: string, ok: boolean, ms: number, detail?: string): ProbeResult {
  return { group: 'inject', probe, expected, measured, ok, ms: Math.round(ms), ...(detail ? { detail } : {}) };
}

// The request sent for an injected name: the one given (--inject-request HOST=METHOD/PATH), else
// the manifest's; either may be absent. The host's audit check expects the same (injection-audit.ts).
export function chosenRequest(r: Inject['requests'][number], given: Readonly<Record<string, string>> | undefined): { method?: string; path?: string } {
  const m = /^([A-Z]+) ?(\/\S*)$/.exec(given?.[r.host] ?? '');
  const method = m?.[1] ?? r.method;
  const path = m?.[2] ?? r.path;
  return { ...(method !== undefined ? { method } : {}), ...(path !== undefined ? { path } : {}) };
}

// One injected request: CONNECT, TLS with our CA as the only root, the request, the status line.
async function injected(proxy: Proxy, r: Inject['requests'][number], o: InjectionOptions): Promise<ProbeResult> {
  const started = performance.now();
  const { method, path } = chosenRequest(r, o.requests);
  const expected = 'accepted upstream (2xx)';
  if (method === undefined || path === undefined) {
    return row(`https://${r.host} (${r.rule}) with the placeholder`, expected, 'NOT RUN', false, 0, `no cheap authenticated request is known for ${r.host}: give one with --inject-request ${r.host}=GET/PATH`);
  }
  const probe = `${method} https://${r.host}${path} (${r.rule}) with the placeholder`;
  if (o.proxyCaPem === undefined) return row(probe, expected, 'NOT RUN', false, 0, "the host sent no proxy CA (proxy-ca.pem in enforce's state directory), so the injected TLS cannot be checked");
  const headers = [`Host: ${r.host}`, ...r.headers.map((h) => `${h.name}: ${h.value}`), 'Connection: close'];
  const answer = await exchange(proxy, r.host, r.port, [o.proxyCaPem], `${method} ${path} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`, o.timeoutMs);
  const ms = performance.now() - started;
  if ('error' in answer) return row(probe, expected, `failed (${answer.error})`, false, ms, `the request to ${r.host} through the proxy did not complete: ${answer.error}`);
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(answer.text)?.[1] ?? 'not HTTP';
  const ok = /^2\d\d$/.test(status);
  return row(probe, expected, status, ok, ms, ok ? undefined : status === '401' || status === '403'
    ? `the upstream refused the credential (${status}): the proxy did not add a valid one — check the secret's value (nanopolicy doctor) and the inject line`
    : `the upstream answered ${status}, not 2xx`);
}

// A gateway with `websocket-token`: a WebSocket through the proxy, TLS that only our CA vouches for
// (the injecting layer terminates it), the server's 101 with the accept value our key asks for,
// and its first frame a HELLO (op 10). No IDENTIFY: it would log the bot in. The token's value is
// proven by the injected request that carries the same secret, where there is one.
async function gateway(proxy: Proxy, w: NonNullable<Inject['websockets']>[number], o: InjectionOptions): Promise<ProbeResult> {
  const started = performance.now();
  const probe = `wss://${w.host}${w.path} (${w.rule}) through the injecting layer`;
  const expected = '101, HELLO (op 10)';
  if (o.proxyCaPem === undefined) return row(probe, expected, 'NOT RUN', false, 0, "the host sent no proxy CA (proxy-ca.pem in enforce's state directory), so the injected TLS cannot be checked");
  const key = randomBytes(16).toString('base64');
  const request = `GET ${w.path} HTTP/1.1\r\nHost: ${w.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
  const answer = await exchange(proxy, w.host, w.port, [o.proxyCaPem], request, o.timeoutMs, (data) => firstFrame(data) !== undefined);
  const ms = performance.now() - started;
  if ('error' in answer) return row(probe, expected, `failed (${answer.error})`, false, ms, `the WebSocket to ${w.host} through the proxy did not open: ${answer.error}`);
  const data = Buffer.from(answer.text, 'latin1');
  const status = /^HTTP\/1\.1 (\d{3})/.exec(answer.text)?.[1] ?? 'not HTTP';
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  if (status !== '101') return row(probe, expected, status, false, ms, `${w.host} answered ${status} to the WebSocket handshake through the proxy, not 101`);
  const head = answer.text.slice(0, answer.text.indexOf('\r\n\r\n')).split('\r\n');
  const given = head.find((l) => /^sec-websocket-accept:/i.test(l))?.slice('sec-websocket-accept:'.length).trim();
  if (given !== accept) {
    return row(probe, expected, '101, wrong accept', false, ms, `the 101 from ${w.host} does not answer this probe's Sec-WebSocket-Key: not a WebSocket server's answer to it`);
  }
  const frame = firstFrame(data);
  let op: unknown;
  try {
    op = frame?.opcode === 1 ? (JSON.parse(frame.payload.toString('utf8')) as { op?: unknown }).op : undefined;
  } catch {
    op = undefined;
  }
  if (op !== 10) return row(probe, expected, `101, first frame ${frame ? `opcode ${frame.opcode}${op !== undefined ? `, op ${String(op).slice(0, 10)}` : ''}` : 'none'}`, false, ms, `the gateway at ${w.host} did not greet with HELLO (op 10)`);
  const token = w.provenBy
    ? `the bot token (secret "${w.secret}") is proven by the request to ${w.provenBy}`
    : `no row proves the token's value (secret "${w.secret}"): inject it on an HTTP name with a cheap authenticated call as well (for Discord, discord.com) to have it checked`;
  return row(probe, expected, '101, HELLO', true, ms, `the token is not sent (an IDENTIFY would log the bot in); ${token}`);
}

// The first WebSocket frame after the 101's head, when it is whole (server frames are unmasked).
// Its own small reader, not src/inject/websocket/frame.ts: this file runs in the VM and takes
// nothing of the host side (the floor plan's verify-inside-stays-small).
function firstFrame(data: Buffer): { opcode: number; payload: Buffer } | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const f = data.subarray(end + 4);
  if (f.length < 2) return undefined;
  let length = f[1]! & 0x7f;
  let at = 2;
  if (length === 126) {
    if (f.length < 4) return undefined;
    length = f.readUInt16BE(2);
    at = 4;
  } else if (length === 127) {
    // Never a HELLO (a few dozen bytes): the frame is named by its opcode, its payload not read.
    return { opcode: f[0]! & 0x0f, payload: Buffer.alloc(0) };
  }
  if (f[1]! & 0x80) at += 4;
  if (f.length < at + length) return undefined;
  return { opcode: f[0]! & 0x0f, payload: f.subarray(at, at + length) };
}

// A listed name without injection: its certificate must not chain to our CA (end to end).
async function plainName(proxy: Proxy, p: Inject['plain'][number], o: InjectionOptions): Promise<ProbeResult> {
  const started = performance.now();
  const probe = `${p.host}:${p.port} (${p.rule}) not injected, end to end`;
  const expected = 'not our CA';
  if (o.proxyCaPem === undefined) return row(probe, expected, 'NOT RUN', false, 0, 'the host sent no proxy CA, so whose certificate the VM gets cannot be told');
  const answer = await exchange(proxy, p.host, p.port, [o.proxyCaPem], undefined, o.timeoutMs);
  const ms = performance.now() - started;
  if (!('error' in answer)) return row(probe, expected, "OUR CA'S CERTIFICATE", false, ms, `the proxy terminates TLS for ${p.host}, which the policy does not inject on: it could rewrite what the VM sends there`);
  // Refused by a chain check: someone else's certificate. Anything else says nothing either way.
  const chain = /certificate|issuer|self.signed|UNABLE_TO|SELF_SIGNED|CERT_/i.test(answer.error);
  return row(probe, expected, chain ? `another CA's (${answer.error})` : `NOT RUN (${answer.error})`, chain, ms, chain ? undefined : `the TLS handshake with ${p.host} did not get as far as a certificate: ${answer.error}`);
}

// The lab's echo server, a listed name without injection: every placeholder comes back as sent.
async function echoed(proxy: Proxy, echo: string, placeholders: readonly string[], o: InjectionOptions): Promise<ProbeResult> {
  const started = performance.now();
  const m = /^([A-Za-z0-9.-]+):(\d+)(\/\S*)$/.exec(echo);
  const probe = `placeholders to ${echo} (not injected)`;
  const expected = 'echoed unchanged';
  if (!m) return row(probe, expected, 'NOT RUN', false, 0, `--inject-echo "${echo}" is not host:port/path`);
  const body = placeholders.join('\n');
  const headers = [`Host: ${m[1]}`, ...placeholders.map((p, i) => `x-nanopolicy-probe-${i}: ${p}`), `authorization: Bearer ${placeholders[0] ?? ''}`, `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close'];
  const answer = await exchange(proxy, m[1]!, Number(m[2]), o.caPem ? [...tls.rootCertificates, o.caPem] : undefined, `POST ${m[3]} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n${body}`, o.timeoutMs);
  const ms = performance.now() - started;
  if ('error' in answer) return row(probe, expected, `NOT RUN (${answer.error})`, false, ms, `the echo server could not be reached through the proxy: ${answer.error}`);
  // Each placeholder three times: two headers and the body, as the echo reflects them.
  const missing = placeholders.filter((p) => answer.text.split(p).length - 1 < 3);
  return row(probe, expected, missing.length === 0 ? 'unchanged' : `CHANGED (${missing.join(', ')})`, missing.length === 0, ms, missing.length === 0 ? undefined : `the placeholder did not arrive unchanged at a name without injection: ${missing.join(', ')}`);
}

// CONNECT through the proxy, TLS with `ca`, then (when given) one request read to its close, or
// until `complete` says what came is enough (a WebSocket never closes by itself).
function exchange(proxy: Proxy, host: string, port: number, ca: string[] | undefined, request: string | undefined, timeoutMs: number, complete?: (data: Buffer) => boolean): Promise<{ text: string } | { error: string }> {
  return new Promise((resolve) => {
    const raw = net.connect({ host: proxy.host, port: proxy.port });
    const timer = deadline(() => done({ error: 'timeout' }), timeoutMs * 3);
    let head = '';
    let secure: tls.TLSSocket | undefined;
    const parts: Buffer[] = [];
    raw.once('connect', () => raw.write(`CONNECT ${host}:${port} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`));
    raw.on('data', onHead);
    raw.once('error', (e: NodeJS.ErrnoException) => done({ error: e.code ?? e.message }));
    function onHead(d: Buffer): void {
      head += d.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      raw.removeListener('data', onHead);
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 'not HTTP';
      if (status !== '200') return done({ error: `CONNECT ${status}` });
      secure = tls.connect({ socket: raw, servername: host, ALPNProtocols: ['http/1.1'], ...(ca ? { ca } : {}) });
      secure.once('secureConnect', () => {
        if (request === undefined) return done({ text: '' });
        secure!.write(request);
      });
      secure.on('data', (x: Buffer) => {
        parts.push(x);
        if (complete) {
          const data = Buffer.concat(parts);
          if (complete(data)) done({ text: data.toString('latin1') });
        }
      });
      secure.once('error', (e: NodeJS.ErrnoException) => done(parts.length ? { text: Buffer.concat(parts).toString('latin1') } : { error: e.code ?? e.message }));
      secure.once('close', () => done(parts.length ? { text: Buffer.concat(parts).toString('latin1') } : { error: 'closed without an answer' }));
    }
    let finished = false;
    function done(result: { text: string } | { error: string }): void {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      secure?.destroy();
      raw.destroy();
      resolve(result);
    }
  });
}
