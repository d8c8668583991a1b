// Preflight checks both backends share: the shares as they really are on disk (symlinks resolved),
// the cage (policy, state) outside anything the VM may write, the tools, and the listen ports.

import { realpathSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { basename, dirname, join } from 'node:path';
import type { Policy } from '../compiler/policy.ts';
import { sensitiveSegment } from '../compiler/paths/sensitive-patterns.ts';
import { isWithin } from '../compiler/paths/expand-home.ts';
import { cmd } from '../host/command.ts';
import { findOnPath } from '../host/command-runner.ts';
import type { PreflightCheck } from './preflight.ts';
import { hostAddresses, resolveTarget, type Lookup } from './resolve-target.ts';
import { installHint } from '../host/install-hint.ts';

// Every mount exists, is a directory, and — resolved through symlinks — is not sensitive and not
// nested in another: the compiler checks nesting on the paths as written, and a symlink can make
// an innocent-looking ro share lie inside a rw one (or the other way round).
export function mountsCheck(policy: Policy, home: string): PreflightCheck {
  return {
    id: 'mounts',
    describe: 'Check every share exists, is a folder, and is neither sensitive nor nested in another once symlinks are resolved',
    commands: [],
    async check() {
      const problems = [];
      const seen: Array<{ name: string; real: string }> = [];
      for (const m of policy.mounts) {
        let real: string;
        try {
          real = realpathSync(m.path);
        } catch {
          problems.push({ message: `The share "${m.name}" folder "${m.path}" does not exist.`, fix: `Create it (mkdir -p '${m.path}') or remove the mount line.` });
          continue;
        }
        if (!statSync(real).isDirectory()) {
          problems.push({ message: `The share "${m.name}" path "${m.path}" is not a folder; tart shares folders only.`, fix: 'Share the folder that holds it instead.' });
          continue;
        }
        // A symlink can point an innocent-looking share at ~/.ssh or at $HOME itself.
        const match = sensitiveSegment(real);
        const broad = real === '/' || isWithin(realpathOr(home), real);
        if ((match || broad) && !m.allowSensitive) {
          const what = match ? `matches the sensitive pattern "${match.pattern}"` : 'is the root or holds your home folder';
          problems.push({
            message: `The share "${m.name}" resolves to "${real}", which ${what}.`,
            fix: 'Point the share at a plain folder, or add "allow-sensitive" to its line if you really mean it.',
          });
        }
        const other = seen.find((o) => isWithin(real, o.real) || isWithin(o.real, real));
        if (other !== undefined) {
          const relation = other.real === real ? 'the same folder as' : isWithin(real, other.real) ? 'inside' : 'around';
          problems.push({
            message: `The share "${m.name}" resolves to "${real}", ${relation} the share "${other.name}" ("${other.real}"): the VM would reach the inner folder with the outer share's mode.`,
            fix: 'Share folders that do not contain each other once symlinks are resolved (check the symlinks on both paths).',
          });
        }
        seen.push({ name: m.name, real });
      }
      return problems;
    },
  };
}

// The policy file and the state directory lie outside every rw share (real paths): a VM that
// could rewrite them could change its own cage.
export function cageCheck(policy: Policy, stateDir: string): PreflightCheck {
  return {
    id: 'cage',
    describe: 'Check the policy and the state directory lie outside every writable share',
    commands: [],
    async check() {
      const problems = [];
      const policyReal = realpathOr(policy.source.absolutePath);
      const stateReal = realpathOr(stateDir);
      for (const m of policy.mounts.filter((x) => x.mode === 'rw')) {
        const share = realpathOr(m.path);
        if (isWithin(policyReal, share)) {
          problems.push({ message: `The policy "${policyReal}" lies inside the writable share "${m.name}" (${share}).`, fix: 'Move the policy out of every rw share.' });
        }
        if (isWithin(stateReal, share)) {
          problems.push({ message: `The state directory "${stateReal}" lies inside the writable share "${m.name}" (${share}).`, fix: 'Pass --state-dir outside every rw share.' });
        }
      }
      return problems;
    },
  };
}

// Resolves symlinks of the deepest existing ancestor, so a path not created yet still resolves.
export function realpathOr(path: string): string {
  const rest: string[] = [];
  let head = path;
  for (;;) {
    try {
      return join(realpathSync(head), ...[...rest].reverse());
    } catch {
      const parent = dirname(head);
      if (parent === head) return path;
      rest.push(basename(head));
      head = parent;
    }
  }
}

// The programs a backend needs are on PATH.
export function toolsCheck(tools: readonly string[]): PreflightCheck {
  return {
    id: 'tools',
    describe: `Check ${tools.join(', ')} are installed`,
    commands: tools.map((t) => cmd('command', '-v', t)),
    async check(ctx) {
      // Looked up on the runner's PATH in-process (no shell per tool); the runner's own `which`
      // only when that finds nothing, so a runner with its own idea of PATH still decides.
      const found = await Promise.all(tools.map(async (t) => findOnPath(t, ctx.env.PATH) ?? (await ctx.runner.which(t))));
      return tools
        .filter((_, i) => found[i] === undefined)
        .map((t) => ({ message: `"${t}" is not installed (not found on PATH).`, fix: installHint(t) }));
    },
  };
}

// No bridge's listen port is taken on `address` (0.0.0.0 when the gateway does not exist yet).
export function portsCheck(policy: Policy, address: string): PreflightCheck {
  return {
    id: 'ports',
    describe: `Check no bridge port is already taken on ${address}`,
    commands: [],
    async check() {
      const problems = [];
      for (const b of policy.bridges) {
        const err = await tryListen(address, b.listen);
        if (err === 'EADDRINUSE') {
          problems.push({
            message: `Port ${b.listen} (bridge "${b.name}") is already taken on ${address}.`,
            fix: `Find the holder with "lsof -nP -iTCP:${b.listen} -sTCP:LISTEN" and stop it, or pick another "via" port.`,
          });
        }
      }
      return problems;
    },
  };
}

function tryListen(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

// Every bridge's target, resolved now, is an address a bridge may reach: not the host itself (its
// loopback or any of its addresses), not the VM subnet, not link-local, multicast or unspecified.
export function targetsCheck(policy: Policy, lookup: Lookup): PreflightCheck {
  return {
    id: 'targets',
    describe: "Resolve every bridge's target and check the address is neither this host nor the VM network",
    commands: [],
    async check() {
      const own = hostAddresses();
      const problems = [];
      for (const b of policy.bridges) {
        const r = await resolveTarget(b, policy, lookup, own);
        if (!r.ok) problems.push({ message: r.message, fix: "Point the name at the service's LAN or internet address (its DNS record, or the hosts file), or target that address itself." });
      }
      return problems;
    },
  };
}
