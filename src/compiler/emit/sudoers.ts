// sudoers: the exact pfctl commands enforce runs with `sudo -n`, allowed without a password.

import type { Policy } from '../policy.ts';
import { anchorName } from '../policy.ts';
import { assertVmName } from './expressible.ts';
import { hashHeader } from './header.ts';
import { PFCTL, pfctlCommands } from './pfctl-commands.ts';
import { MACOS_TCPDUMP, tcpdumpArgs } from '../../host/tcpdump-command.ts';

/** Who the rules are for unless the caller names a user: see the file's comment for why. */
export const DEFAULT_SUDOERS_USER = '%admin';

export interface SudoersOptions {
  /** A user name, or `%group`; default %admin. */
  user?: string;
}

// One argument as sudoers wants it: ",", ":", "=" and "\" must be escaped in command arguments.
function sudoersArg(arg: string): string {
  return arg.replace(/[\\,:=]/g, (c) => `\\${c}`);
}

// A command line for sudoers from pfctl's argv.
function command(argv: readonly string[]): string {
  return [PFCTL, ...argv.map(sudoersArg)].join(' ');
}

// The suffix that keeps this VM's alias names apart from another VM's file in /etc/sudoers.d.
function aliasSuffix(policy: Policy): string {
  return policy.vm.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

// Glob patterns for 1 to `max` decimal digits: exact where `*` would also match spaces.
function digitPatterns(prefix: string, min: number, max: number): string[] {
  const out: string[] = [];
  for (let n = min; n <= max; n++) out.push(prefix + '[0-9]'.repeat(n));
  return out;
}

// The file's text.
export function emitSudoers(policy: Policy, options: SudoersOptions = {}): string {
  assertVmName(policy);
  const user = options.user ?? DEFAULT_SUDOERS_USER;
  if (!/^%?[A-Za-z_][A-Za-z0-9_.-]*$/.test(user)) throw new Error(`"${user}" is not a user or %group name sudoers can take.`);
  // sudoers reads ALL as every user and an all-caps word as a User_Alias defined elsewhere.
  if (/^%?[A-Z][A-Z0-9_]*$/.test(user)) throw new Error(`"${user}" is a sudoers keyword or alias, which could mean every user.`);
  const pf = pfctlCommands(policy);
  const suffix = aliasSuffix(policy);
  const rule = (what: string) => `${user} ALL = (root) NOPASSWD: ${what}`;
  // `bridge[0-9]`, `bridge[0-9][0-9]`, `bridge[0-9][0-9][0-9]`: vmnet's interfaces, nothing else.
  const ifPatterns = digitPatterns('bridge', 1, 3);
  const withIf = (argvFor: (vmIf: string) => string[]) =>
    ifPatterns.map((p) => command(argvFor('bridge0').map((a) => (a === 'vm_if=bridge0' ? `vm_if=${p}` : a))));

  const header = hashHeader(policy, [
    `sudo rules for \`nanopolicy enforce\` on the VM "${policy.vm}" (pf anchor ${anchorName(policy)}).`,
    `Install: sudo visudo -c -f sudoers && sudo install -m 0440 -o root -g wheel sudoers /etc/sudoers.d/nanopolicy-${policy.vm}`,
    '',
    `Who: ${user}. The owner of a Mac is in the admin group, which may already run anything with`,
    'sudo and a password; these lines only spare the password for these pfctl commands. The VM',
    'has no account on the host, so it gains nothing here. Edit the user to narrow it further.',
    '',
    'Every command is spelled out with its exact arguments. In sudoers a `*` matches any text,',
    'spaces included: `pfctl -X *` would also allow `pfctl -X 1 -d` (pf off for everyone) and',
    '`-D vm_if=*` would allow `-D vm_if=x -a com.apple -F all`. Variable parts are [0-9] classes.',
  ]);
  const lines = [
    '# Load our anchor from stdin (and nothing but our anchor).',
    rule(command(pf.load)),
    '# The same with the interface holding the gateway for the vm_if macro (a bridgeN interface).',
    `Cmnd_Alias NANOPOLICY_LOAD_${suffix} = ${withIf(pf.loadWithInterface).join(', ')}`,
    rule(`NANOPOLICY_LOAD_${suffix}`),
    '# Parse a ruleset from stdin without loading it.',
    rule(command(pf.check)),
    `Cmnd_Alias NANOPOLICY_CHECK_${suffix} = ${withIf(pf.checkWithInterface).join(', ')}`,
    rule(`NANOPOLICY_CHECK_${suffix}`),
    '# Remove the rules of our anchor only.',
    rule(command(pf.flush)),
    "# Show our anchor's rules, to check they are loaded.",
    rule(command(pf.showAnchorRules)),
    "# The same with counters: verify checks the probes really met the rules.",
    rule(command(pf.showAnchorCounters)),
    '# Show the main ruleset, to check it still holds anchor "com.apple/*".',
    rule(command(pf.showMainRules)),
    "# pf's interfaces and flags: verify checks pf does not skip the VM's bridge.",
    rule(command(pf.showInterfaces)),
    '# List the anchors under com.apple/, to find another VM\'s nanopolicy cage on the same subnet.',
    rule(command(pf.listAppleAnchors)),
    '# pf status, to check pf is enabled.',
    rule(command(pf.info)),
    '# Take a reference on pf being enabled (prints a token).',
    rule(command(pf.enable)),
    '# Give that reference back: a token is 1 to 20 decimal digits.',
    `Cmnd_Alias NANOPOLICY_RELEASE_${suffix} = ${digitPatterns('-X ', 1, 20).map((p) => `${PFCTL} ${p}`).join(', ')}`,
    rule(`NANOPOLICY_RELEASE_${suffix}`),
    '# Kill the states from the VM subnet after the rules change.',
    rule(command(pf.killStates)),
    "# Read what pf's `log` rules refused (pflog0), for `nanopolicy log --refused`: headers only",
    '# (-q decodes no payload), no name lookups (-n).',
    rule([MACOS_TCPDUMP, ...tcpdumpArgs('pflog0')].join(' ')),
  ];
  return `${header}\n${lines.join('\n')}\n`;
}
