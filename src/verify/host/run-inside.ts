// Runs the probe bundle inside the VM: `<prefix> node -` with the input and the bundle on stdin. The VM
// needs Node, not nanopolicy. Default prefix `tart exec -i <vm>` (the guest agent's control socket,
// which works under a deny-all network); the lab passes `ip netns exec <vm-ns>`.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { InsideInput, InsideReport } from '../inside/result.ts';
import { missingProgram } from '../../host/install-hint.ts';

export interface RunInsideOptions {
  /** argv the VM's `node -` is prefixed with. */
  prefix: readonly string[];
  /** The bundle's code; default: dist/probe.cjs. */
  probeCode?: string;
  onProgress?: (done: number, total: number) => void;
  /** Kill the probe after this long (its own budget plus slack). */
  timeoutMs: number;
}

// The script fed to `node -`: the input as a global, then the bundle.
export function insideScript(input: InsideInput, probeCode: string): string {
  return `globalThis.__NANOPOLICY_INPUT = ${JSON.stringify(input)};\n${probeCode}`;
}

// Splits a `--exec` prefix on whitespace, honouring simple '…' and "…" quotes.
export function splitPrefix(prefix: string): string[] {
  const out: string[] = [];
  for (const m of prefix.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) out.push(m[1] ?? m[2] ?? m[3] ?? '');
  return out;
}

// dist/probe.cjs next to the CLI bundle, or under the package root when running from src/.
export function loadProbeBundle(): string {
  const candidates = [new URL('./probe.cjs', import.meta.url), new URL('../../../dist/probe.cjs', import.meta.url)];
  for (const c of candidates) {
    const path = fileURLToPath(c);
    if (existsSync(path)) return readFileSync(path, 'utf8');
  }
  throw new Error('the probe bundle dist/probe.cjs is missing: run "npm run build"');
}

// Runs it; resolves to the VM's report, or rejects with what went wrong (stderr included).
export function runInside(input: InsideInput, options: RunInsideOptions): Promise<InsideReport> {
  const [file, ...args] = [...options.prefix, 'node', '-'];
  const code = options.probeCode ?? loadProbeBundle();
  return new Promise((resolve, reject) => {
    const child = spawn(file!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let pending = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      pending += d;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        const p = progressOf(line);
        if (p) options.onProgress?.(p.done, p.total);
        else stderr += `${line}\n`;
      }
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      // A program that is not there is one sentence with its install command (issue 25).
      const code = (e as NodeJS.ErrnoException).code;
      reject(new Error(code === 'ENOENT' ? missingProgram(file!) : `cannot run "${options.prefix.join(' ')} node -": ${e.message}`));
    });
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      const last = stdout.trim().split('\n').pop() ?? '';
      try {
        const report = JSON.parse(last) as InsideReport;
        if (Array.isArray(report.results)) return resolve(report);
      } catch {
        // fall through
      }
      reject(new Error(`the probe in the VM gave no report (exit ${exitCode ?? signal}): ${(stderr + pending).trim().slice(0, 500) || 'no output'}`));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(insideScript(input, code));
  });
}

function progressOf(line: string): { done: number; total: number } | undefined {
  if (!line.startsWith('{"progress"')) return undefined;
  try {
    return (JSON.parse(line) as { progress: { done: number; total: number } }).progress;
  } catch {
    return undefined;
  }
}
