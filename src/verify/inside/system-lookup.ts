// The system resolver (getaddrinfo: the hosts file first, then whatever the system is set to ask),
// asked in a child process that is killed at the deadline. getaddrinfo cannot be cancelled: in our
// own process it blocks one of libuv's pool threads until the resolver gives up (5 s × attempts on
// Linux, longer on macOS), and Node joins those threads at exit, process.exit() included, so one
// lookup the probe has stopped waiting for held verify for seconds past its budget (issue 24).
// A killed child holds nothing. Node built-ins only: this file is bundled into the VM's probe.

import { spawn } from 'node:child_process';

/** Resolves to every address of the name, or rejects with an error carrying `code`. */
export type Lookup = (name: string, timeoutMs: number) => Promise<string[]>;

/**
 * The child: says it is ready (so its start-up time is not counted against the resolver's wait),
 * asks once, prints the outcome as one JSON line. The name comes in argv after `--`, never in code.
 */
const CHILD = `process.stdout.write('R\\n');require('node:dns').lookup(process.argv[1],{all:true,verbatim:true},(e,a)=>process.stdout.write(JSON.stringify(e?{code:e.code||e.message}:{addresses:a.map((x)=>x.address)})+'\\n'))`;

// Asks the system resolver for `name` in a child; waits `timeoutMs` from the moment the child is
// ready to ask, and as long again for it to start. Rejects with code ETIMEOUT when the resolver did
// not answer in time (it was asked), ENOTRUN when it could not be asked at all (a check that did
// not run: callers must not read that as "does not resolve").
export const systemLookup: Lookup = (name, timeoutMs) =>
  new Promise((resolve, reject) => {
    let out = '';
    let asked = false;
    let done = false;
    const child = spawn(process.execPath, ['-e', CHILD, '--', name], { stdio: ['ignore', 'pipe', 'ignore'], env: process.env });
    const finish = (error: NodeJS.ErrnoException | undefined, addresses?: string[]) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      if (error) reject(error);
      else resolve(addresses ?? []);
    };
    const fail = (code: string, message: string) => finish(Object.assign(new Error(message), { code }));
    let timer = setTimeout(() => fail('ENOTRUN', `the lookup did not start within ${timeoutMs} ms`), timeoutMs);
    child.on('error', (e) => fail('ENOTRUN', `the lookup could not start: ${e.message}`));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (!asked && out.startsWith('R\n')) {
        asked = true;
        clearTimeout(timer);
        timer = setTimeout(() => fail('ETIMEOUT', 'timed out'), timeoutMs);
      }
      const line = out.slice(2).split('\n')[0];
      if (!asked || out.slice(2).indexOf('\n') < 0 || line === undefined) return;
      try {
        const r = JSON.parse(line) as { code?: string; addresses?: string[] };
        if (Array.isArray(r.addresses)) finish(undefined, r.addresses.map(String));
        else fail(String(r.code ?? 'EUNKNOWN'), `lookup failed (${String(r.code)})`);
      } catch {
        fail('ENOTRUN', 'the lookup gave no readable answer');
      }
    });
    child.on('close', (code, signal) => fail('ENOTRUN', `the lookup ended without an answer (exit ${code ?? signal})`));
  });
