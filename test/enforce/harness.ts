// A fake macOS for enforce tests: temp policy, shares, state dir, and PATH pointing at the fake
// pfctl/tart/ifconfig/sudo/softnet/socat in test/fixtures/bin, which record every call. Their short
// calls are answered by one fake server per test process (fakeServer()), not a Node start each.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';

export const BIN = join(import.meta.dirname, '..', 'fixtures', 'bin');
/** An excerpt of macOS's /etc/services: what the fake pfctl prints ports with, and enforce reads. */
export const MACOS_SERVICES = join(import.meta.dirname, '..', 'fixtures', 'macos', 'services');

export interface FakeMac {
  root: string;
  policy: string;
  stateDir: string;
  fakeState: string;
  log: string;
  env: NodeJS.ProcessEnv;
  /** Runs `nanopolicy enforce …` in-process. */
  enforce(args: string[], extraEnv?: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Every recorded call as "tool arg arg …". */
  calls(): string[];
  clearCalls(): void;
  /** What is still applied on the fake host; all empty means nothing left behind. */
  leftovers(): { anchors: string[]; tokens: string[]; vm: string; socat: number[]; state: boolean };
  cleanup(): void;
}

/** The enforce calls that change the fake host (a plan that must change nothing has none). */
export const MUTATING = /pfctl .*(-f -|-E|-X|-F all|-k)|^tart (run|stop)|^socat/;
/** enforce's arguments for the pf backend, with a short wait for the fake VM's address. */
export const PF = ['--backend', 'pf', '--wait', '3'];

/**
 * The bridges' listen ports. enforce's "ports" preflight really binds them (on 0.0.0.0, as on a
 * Mac before the VM's gateway exists), so two test processes running enforce at once on the same
 * ports would see each other's probe as "already taken": each child of test/run.ts has a slot
 * number of its own (NANOPOLICY_TEST_SLOT), and its ports are offset by it.
 */
const SLOT = Number(process.env.NANOPOLICY_TEST_SLOT ?? 0);
export const PORT = { alpha: 18080 + SLOT, beta: 18443 + SLOT } as const;

export const POLICY = (root: string) => `vm t-vm
allow alpha 198.51.100.10:8080 via ${PORT.alpha}
allow beta  svc.lab.example:443 via ${PORT.beta} tls
mount work ${root}/work rw
mount docs ${root}/docs ro
`;

// Builds a fresh fake host in a temp dir.
export function fakeMac(policyText?: (root: string) => string): FakeMac {
  const root = mkdtempSync(join(tmpdir(), 'np-enforce-'));
  mkdirSync(join(root, 'work'));
  mkdirSync(join(root, 'docs'));
  const policy = join(root, 't.policy');
  writeFileSync(policy, (policyText ?? POLICY)(root));
  const stateDir = join(root, 'state');
  const fakeState = join(root, 'fake');
  mkdirSync(fakeState);
  const log = join(root, 'calls.jsonl');
  // Bridge target names resolve from this file alone: a test never asks the real resolver.
  writeFileSync(join(root, 'hosts'), '198.51.100.20 svc.lab.example\n');
  const env: NodeJS.ProcessEnv = {
    NANOPOLICY_HOSTS_FILE: join(root, 'hosts'),
    PATH: `${BIN}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: root,
    NANOPOLICY_FAKE_STATE: fakeState,
    NANOPOLICY_FAKE_LOG: log,
    NANOPOLICY_SERVICES_FILE: MACOS_SERVICES,
    NANOPOLICY_FAKE_SERVER: fakeServer(),
    NO_COLOR: '1',
  };
  const fake: FakeMac = {
    root, policy, stateDir, fakeState, log, env,
    async enforce(args, extraEnv = {}) {
      let stdout = '';
      let stderr = '';
      const io = {
        stdout: { write: (s: string) => { stdout += s; } },
        stderr: { write: (s: string) => { stderr += s; } },
        env: { ...env, ...extraEnv },
      };
      const code = await main(['node', 'nanopolicy', 'enforce', ...args, '--state-dir', stateDir, '--home', root], io);
      return { code, stdout, stderr };
    },
    calls() {
      if (!existsSync(log)) return [];
      return readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => {
        const { tool, argv } = JSON.parse(l) as { tool: string; argv: string[] };
        return [tool, ...argv].join(' ');
      });
    },
    clearCalls() {
      rmSync(log, { force: true });
    },
    leftovers() {
      const anchorsDir = join(fakeState, 'anchors');
      const pidsDir = join(fakeState, 'socat-pids');
      const tokensFile = join(fakeState, 'tokens');
      const vmFile = join(fakeState, 'vm');
      return {
        anchors: existsSync(anchorsDir) ? readdirSync(anchorsDir) : [],
        tokens: existsSync(tokensFile) ? readFileSync(tokensFile, 'utf8').split('\n').filter(Boolean) : [],
        vm: existsSync(vmFile) ? readFileSync(vmFile, 'utf8') : 'never',
        socat: (existsSync(pidsDir) ? readdirSync(pidsDir) : []).map(Number).filter(alive),
        state: existsSync(join(stateDir, 'state.json')),
      };
    },
    cleanup() {
      // Never leave a fake bridge or VM running, whatever the test did.
      const pidsDir = join(fakeState, 'socat-pids');
      for (const pid of existsSync(pidsDir) ? readdirSync(pidsDir).map(Number) : []) kill(pid);
      const vmPid = join(fakeState, 'vm.pid');
      if (existsSync(vmPid)) kill(Number(readFileSync(vmPid, 'utf8')));
      rmSync(root, { recursive: true, force: true });
    },
  };
  return fake;
}

let serverDir: string | undefined;

// Starts `node _fake.mjs --serve DIR` once for this test process (see test/fixtures/bin/_served.sh)
// and returns DIR. It ends when this process does (its stdin closes); a call made before it is up
// waits for it (opening a FIFO blocks until the reader is there). If it ever dies, the FIFO goes
// and the fakes start Node per call again.
function fakeServer(): string {
  if (serverDir !== undefined) return serverDir;
  const dir = mkdtempSync(join(tmpdir(), 'np-fake-server-'));
  // The request FIFO, and the answer FIFOs the sh fakes claim one at a time (_served.sh).
  const made = spawnSync('mkfifo', [join(dir, 'requests'), ...Array.from({ length: 64 }, (_, i) => join(dir, `rc.${i}`))], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`mkfifo failed: ${made.stderr}`);
  const server = spawn(process.execPath, [join(BIN, '_fake.mjs'), '--serve', dir], { stdio: ['pipe', 'inherit', 'inherit'] });
  server.once('exit', () => rmSync(join(dir, 'requests'), { force: true }));
  server.unref();
  (server.stdin as Socket).unref();
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  serverDir = dir;
  return dir;
}

/** Waits until none of `pids` runs (polling, not a fixed sleep); throws after `ms`. */
export async function gone(pids: readonly number[], ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (pids.some(alive)) {
    if (Date.now() >= end) throw new Error(`still running after ${ms} ms: ${pids.filter(alive).join(' ')}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// Kills a fake's process group (enforce starts each in its own), else the pid.
function kill(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
      return;
    } catch {
      // not a group leader, or gone
    }
  }
}
