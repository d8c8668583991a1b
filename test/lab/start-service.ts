// Starts one lab server script (servers/*.mjs) inside a namespace and waits until it listens.

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const SERVERS_DIR = join(import.meta.dirname, 'servers');

export interface RunningService {
  name: string;
  ns: string;
  address: string;
  port: number;
  pid: number;
  log: string;
  child: ChildProcess;
}

// Runs `node servers/<script> <config>` in `ns`; resolves once it printed its ready line.
export function startServerScript(
  ns: string,
  script: string,
  config: { name: string; address: string; port: number; log: string } & Record<string, unknown>,
  timeoutMs = 5000,
): Promise<RunningService> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, join(SERVERS_DIR, script), JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`Lab service "${config.name}" (${script} in ${ns} on ${config.address}:${config.port}) ${why}${err ? `: ${err.trim()}` : ''}`));
    };
    const timer = setTimeout(() => fail(`not ready after ${timeoutMs} ms`), timeoutMs);
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => fail(`exited with ${code} before it was ready`));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (!out.includes('\n') || line === undefined) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      const ready = JSON.parse(line) as { pid: number; port: number };
      resolve({ name: config.name, ns, address: config.address, port: ready.port, pid: ready.pid, log: config.log, child });
    });
  });
}
