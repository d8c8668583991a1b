// tart-run.sh: starts the VM with softnet closed except for the gateway, and only the policy's shares.

import type { Mount, Policy } from '../policy.ts';
import { assertShareExpressible, assertVmName } from './expressible.ts';
import { hashHeader } from './header.ts';
import { shellQuote } from './shell-quote.ts';
import { PFCTL, pfctlCommands } from './pfctl-commands.ts';
import { anchorName } from '../policy.ts';

// One `--dir` value: `name:path`, plus `:ro` for read-only shares (default tag, domain.md §2).
export function tartDirValue(mount: Pick<Mount, 'name' | 'path' | 'mode'>): string {
  assertShareExpressible(mount.name, mount.path);
  return `${mount.name}:${mount.path}${mount.mode === 'ro' ? ':ro' : ''}`;
}

// tart's arguments (after the program name `tart`) to run the VM under this policy.
export function tartRunArgv(policy: Policy): string[] {
  assertVmName(policy);
  return [
    'run',
    '--no-graphics',
    '--no-clipboard',
    '--no-audio',
    '--net-softnet-block=0.0.0.0/0',
    `--net-softnet-allow=${policy.network.gateway}/32`,
    ...policy.mounts.map((m) => `--dir=${tartDirValue(m)}`),
    policy.vm,
  ];
}

// Refuses to start the VM while its pf anchor is empty: a VM started without it would be caged by
// softnet alone from its first packet. The check is the `pfctl -a … -sr` the sudoers file allows.
function anchorGuard(policy: Policy): string[] {
  const show = ['sudo', '-n', PFCTL, ...pfctlCommands(policy).showAnchorRules].map(shellQuote).join(' ');
  return [
    '# The pf anchor first: enforce loads it before the VM starts (see nanopolicy enforce --no-start).',
    `if ! ${show} 2>/dev/null | grep -q .; then`,
    `  echo ${shellQuote(`tart-run.sh: the pf anchor ${anchorName(policy)} is not loaded; run "nanopolicy enforce --no-start <policy>" first.`)} >&2`,
    '  exit 3',
    'fi',
    '',
  ];
}

// The script's text: one `exec tart run …` line, every argument quoted for sh where needed.
export function emitTartRun(policy: Policy): string {
  const argv = tartRunArgv(policy);
  const header = hashHeader(policy, [
    `Starts the VM "${policy.vm}" under the policy. Run it as the user who owns the VM.`,
    '',
    '--no-clipboard: clipboard sharing is on by default and is a way out for data.',
    '--no-audio: tart attaches the host\'s microphone and speakers by default; the VM could listen in.',
    '--net-softnet-block=0.0.0.0/0: softnet lets the VM reach the whole internet by default.',
    `--net-softnet-allow=${policy.network.gateway}/32: only the gateway, where the bridges and DHCP`,
    '  answer; the pf anchor decides which of its ports.',
    '--dir: only the policy\'s shares, by absolute path, ":ro" where read-only.',
    'The script takes no arguments: any extra tart flag (another --net-softnet-allow, another --dir)',
    'would widen the cage behind the policy\'s back. Change the policy and compile instead.',
  ]);
  const lines = argv.map((arg) => `  ${shellQuote(arg)}`);
  return [
    '#!/bin/sh',
    header.trimEnd(),
    'set -eu',
    '',
    'if [ "$#" -ne 0 ]; then',
    "  echo 'tart-run.sh takes no arguments: change the policy and compile again.' >&2",
    '  exit 2',
    'fi',
    '',
    ...anchorGuard(policy),
    `exec tart ${lines.join(' \\\n').trimStart()}`,
    '',
  ].join('\n');
}
