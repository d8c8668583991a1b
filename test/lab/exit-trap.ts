// Tears down this process's live labs when the process ends, however it ends (test failure,
// uncaught error, Ctrl-C, kill): 'exit' handlers may only run synchronous code, so this calls
// destroyLabSync, which needs nothing but the lab id.

import { destroyLabSync } from './destroy-lab.ts';

const live = new Set<string>();
let installed = false;

// Marks a lab id as live, to be destroyed at exit unless released first.
export function trapLab(id: string): void {
  install();
  live.add(id);
}

// Forgets a lab id after its normal teardown.
export function releaseLab(id: string): void {
  live.delete(id);
}

// Destroys every lab still marked live.
function destroyAll(): void {
  for (const id of live) {
    destroyLabSync(id);
    live.delete(id);
  }
}

// Installs the exit and signal handlers, once per process.
function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', destroyAll);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.on(signal, () => {
      destroyAll();
      process.exit(code);
    });
  }
}
