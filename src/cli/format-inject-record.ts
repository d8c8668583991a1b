// One line of `nanopolicy log` for a record of the injecting layer (issue 23): an injected request,
// a WebSocket that opened or closed, a refusal inside an injected tunnel, or a secret source that
// could not be read again (or could again, or gave a new value). Secrets by name only.

import type { Colors } from '../colors.ts';

interface InjectLine {
  time: string;
  kind: string;
  name: string;
  rule: string;
  method?: string;
  path?: string;
  status?: number;
  bytesUp?: number;
  bytesDown?: number;
  durationMs?: number;
  secrets?: string[];
  tokensInjected?: number;
  code?: string;
  reason?: string;
  secret?: string;
  hint?: string;
}

// The line, or undefined when the record is not one of the injecting layer's.
export function formatInjectRecord(record: object, c: Colors): string | undefined {
  const r = record as InjectLine;
  if (typeof r.kind !== 'string') return undefined;
  // The proxy records UTC, and the line says so (as every line of `log` does).
  const time = `${String(r.time).replace('T', ' ').replace(/\.\d+Z$|Z$/, '')} UTC`;
  // The proxy's own records about a secret source (src/proxy/main.ts), by name only.
  if (r.kind === 'secret-unreadable') return `${c.dim(time)}  ${c.red('SECRET')}   "${r.secret}" could not be read again: ${r.reason} The value read before stays in use. ${r.hint ?? ''}`.trimEnd();
  if (r.kind === 'secret-readable') return `${c.dim(time)}  ${c.green('secret')}   "${r.secret}" is readable again`;
  if (r.kind === 'secret-changed') return `${c.dim(time)}  ${c.green('secret')}   new value in use for ${(r.secrets ?? []).map((n) => `"${n}"`).join(', ')}`;
  const rule = (r.rule ?? '').padEnd(10);
  const with_ = r.secrets?.length ? ` + ${r.secrets.join(', ')}` : '';
  if (r.kind === 'injected-request') {
    return `${c.dim(time)}  ${c.green('injected')} ${rule} ${`${r.method} ${r.name}${r.path}`.padEnd(34)} → ${String(r.status)}${with_}  ${c.dim(`↑${r.bytesUp} B ↓${r.bytesDown} B in ${r.durationMs} ms`)}`;
  }
  if (r.kind === 'websocket-open') return `${c.dim(time)}  ${c.green('ws open')}  ${rule} ${`${r.name}${r.path}`.padEnd(34)}${with_}`;
  if (r.kind === 'websocket-close') return `${c.dim(time)}  ${c.green('ws close')} ${rule} ${r.name.padEnd(34)} ${c.dim(`${r.tokensInjected} token(s) injected, ↑${r.bytesUp} B ↓${r.bytesDown} B in ${r.durationMs} ms`)}`;
  return `${c.dim(time)}  ${c.red('REFUSED')}  ${rule} ${r.name.padEnd(34)}   ${r.reason ?? r.kind} (${r.code ?? 'injection'})`;
}
