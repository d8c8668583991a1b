// Whether this machine can build a lab, and what a test does when it cannot.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

// tcpdump: enforce --backend nft starts the firewall-log collector, which reads nflog through it.
const TOOLS = ['ip', 'nft', 'socat', 'mount', 'umount', 'tcpdump'] as const;

let cached: string[] | undefined;

// Reasons the lab cannot run here; empty when it can. Checked once per process.
export function labAvailable(): string[] {
  if (cached) return cached;
  const reasons: string[] = [];
  if (process.platform !== 'linux') reasons.push(`the lab needs Linux (this is ${process.platform})`);
  else if (process.getuid?.() !== 0) reasons.push('the lab needs root (network namespaces, mounts)');
  for (const tool of TOOLS) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0) {
      reasons.push(`"${tool}" is not installed`);
    }
  }
  // ip netns exec bind-mounts /etc/netns/<ns>/<file> over these; without them the lab's DNS and
  // hosts settings would silently not apply.
  for (const file of ['/etc/hosts', '/etc/resolv.conf']) {
    if (!existsSync(file)) reasons.push(`${file} does not exist`);
  }
  cached = reasons;
  return reasons;
}

// For a lab test file: true when the lab can run. Under CI=true a missing lab throws (the file fails
// loudly); locally it prints one notice and returns false so the caller skips its suites.
export function requireLab(what = 'lab tests'): boolean {
  const reasons = labAvailable();
  if (reasons.length === 0) return true;
  const message = `${what} need the network-namespace lab, which cannot run here: ${reasons.join('; ')}.`;
  if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(`${message} (CI=true: failing instead of skipping)`);
  process.stderr.write(`notice: skipping ${message}\n`);
  return false;
}
