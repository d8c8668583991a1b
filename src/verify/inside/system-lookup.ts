// The system resolver (getaddrinfo: the hosts file first, then whatever the system is set to ask),
// asked in a child process that is killed at the deadline. getaddrinfo cannot be cancelled: in our
// own process it blocks one of libuv's pool threads until the resolver gives up (5 s × attempts on
// Linux, longer on macOS), and Node joins those threads at exit, process.exit() included, so one
// lookup the probe has stopped waiting for held verify for seconds past its budget (issue 24).
// A killed child holds nothing. Node built-ins only: this file is bundled into the VM's probe.

import { spawn } from 'node:child_process';
import { deadline } from './deadline.ts';

/** Resolves to every address of the name, or rejects with an error carrying `code`. */
export type Lookup = (name: string, timeoutMs: number) => Promise<string[]>;

/**
 * The child: says it is ready (so its start-up is not counted against the resolver's wait), asks
 * for every name at once, prints each outcome as one JSON line with the name's index. The names
 * come in argv after `--`, never in code.
 */
const CHILD = `process.stdout.write('R\\n');const d=require('node:dns');process.argv.slice(1).forEach((n,i)=>d.lookup(n,{all:true,verbatim:true},(e,a)=>process.stdout.write(JSON.stringify(e?{i,code:e.code||e.message}:{i,addresses:a.map((x)=>x.address)})+'\\n')))`;

/**
 * How long a child may take to start before the lookup counts as not run: a Node start, which on
 * a loaded machine can take far longer than a probe's timeout. Not part of the resolver's wait.
 */
const START_MS = 3000;

interface Request {
  name: string;
  timeoutMs: number;
  resolve(addresses: string[]): void;
  reject(error: NodeJS.ErrnoException): void;
}

let batch: Request[] | undefined;

// Asks the system resolver for `name` in a child; waits `timeoutMs` from the moment the child is
// ready to ask. Rejects with code ETIMEOUT when the resolver did not answer in time (it was asked),
// ENOTRUN when it could not be asked at all (a check that did not run: callers must not read that
// as "does not resolve"). Lookups asked in the same turn of the event loop share one child.
export const systemLookup: Lookup = (name, timeoutMs) =>
  new Promise((resolve, reject) => {
    if (batch === undefined) {
      const requests: Request[] = (batch = []);
      setImmediate(() => {
        batch = undefined;
        askInChild(requests);
      });
    }
    batch.push({ name, timeoutMs, resolve, reject });
  });

// One child for `requests`; each ends at its own deadline, the child when all have.
function askInChild(requests: readonly Request[]): void {
  const open = new Set(requests.map((_, i) => i));
  const timers: NodeJS.Timeout[] = [];
  const child = spawn(process.execPath, ['-e', CHILD, '--', ...requests.map((r) => r.name)], { stdio: ['ignore', 'pipe', 'ignore'] });
  const settle = (i: number, error: NodeJS.ErrnoException | undefined, addresses?: string[]) => {
    if (!open.delete(i)) return;
    clearTimeout(timers[i]);
    if (error) requests[i]!.reject(error);
    else requests[i]!.resolve(addresses ?? []);
    if (open.size === 0) {
      clearTimeout(startTimer);
      child.kill('SIGKILL');
    }
  };
  const failAll = (code: string, message: string) => {
    for (const i of [...open]) settle(i, Object.assign(new Error(message), { code }));
  };
  const startTimer = setTimeout(() => failAll('ENOTRUN', `the lookup did not start within ${START_MS} ms`), START_MS);
  let out = '';
  let asked = false;
  child.on('error', (e) => failAll('ENOTRUN', `the lookup could not start: ${e.message}`));
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    let nl: number;
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      if (!asked && line === 'R') {
        asked = true;
        clearTimeout(startTimer);
        // deadline(): an answer already read in the same turn wins over its timeout (a timeout here
        // reads as "does not resolve", a pass, so a false one would be a false pass).
        requests.forEach((r, i) => (timers[i] = deadline(() => settle(i, Object.assign(new Error('timed out'), { code: 'ETIMEOUT' })), r.timeoutMs)));
        continue;
      }
      answer(line);
    }
  });
  const answer = (line: string) => {
    try {
      const r = JSON.parse(line) as { i?: number; code?: string; addresses?: unknown[] };
      if (typeof r.i !== 'number') return;
      if (Array.isArray(r.addresses)) settle(r.i, undefined, r.addresses.map(String));
      else settle(r.i, Object.assign(new Error(`lookup failed (${String(r.code)})`), { code: String(r.code ?? 'EUNKNOWN') }));
    } catch {
      // Not a line of ours: the lookups it would have answered end at their deadlines.
    }
  };
  child.on('close', (code, signal) => failAll('ENOTRUN', `the lookup ended without an answer (exit ${code ?? signal})`));
}
