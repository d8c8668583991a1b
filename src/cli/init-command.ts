// `nanopolicy init`: write a first policy from an existing NanoClaw install.

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homeDir } from '../lazy-builtins.ts';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { initPolicy, InitInputError } from '../init/init-policy.ts';
import { InitCheckError } from '../init/settle-with-check.ts';
import { visible } from '../init/visible-text.ts';
import { EXIT, type Io } from './io.ts';
import type { SetExit } from './set-exit.ts';
import { UsageError } from './usage-error.ts';
import { CommandFailure } from './command-failure.ts';

interface InitFlags {
  from?: string;
  out?: string;
  force?: boolean;
  vm: string;
  home?: string;
  allowlist?: string;
  json?: boolean;
}

export function registerInitCommand(program: Command, io: Io, setExit: SetExit): void {
  program
    .command('init')
    .description('Write a first policy from an existing NanoClaw install: its folders, the socat bridges its scripts start, the keys of its .env.')
    .option('--from <dir>', 'the NanoClaw install to read (default ~/nanoclaw)')
    .option('-o, --out <file>', 'write the policy to this file instead of stdout (never over an existing file without --force)')
    .option('--force', 'with -o: replace an existing file')
    .option('--vm <name>', 'the Tart VM the policy is for', 'nanoclaw-vm')
    .option('--allowlist <file>', "NanoClaw's mount allowlist (default ~/.config/nanoclaw/mount-allowlist.json)")
    .option('--home <dir>', 'folder "~" stands for (default: your home)')
    .option('--json', 'print the policy, the warnings and what was found as JSON on stdout')
    .addHelpText(
      'after',
      `
init reads the install and changes nothing in it. It writes:
  - "mount" lines for groups, data, memory (read-write) and scripts (read-only: the host runs
    what is in it); other folders as comments to decide on;
  - an "allow" line per socat bridge in the install's scripts (TCP-LISTEN:PORT … TCP:HOST:PORT),
    with a note where the old line could not work in a VM (bind=$VM_IP);
  - the extra folders of NanoClaw's mount allowlist, read-only unless every group may write them;
  - the key names of .env (never a value) and how to move them into Vaultwarden.
Every secret-looking or suspicious finding is a warning on stderr. The policy passes "check";
a line the check refuses is left as a comment that says why.

Exit codes: 0 written, 1 the install cannot be read or the file exists (use --force), 64 bad
command line.

Examples:
  $ nanopolicy init                                   # read ~/nanoclaw, print the policy
  $ nanopolicy init -o ~/.config/nanopolicy/nanoclaw.policy
  $ nanopolicy init --from /opt/nanoclaw --vm assistant -o nanoclaw.policy --force
  $ nanopolicy init --json | jq '.warnings[]'`,
    )
    .action((flags: InitFlags) => {
      setExit(runInit(flags, io));
    });
}

function runInit(flags: InitFlags, io: Io): number {
  if (!/^[a-z][a-z0-9-]*$/.test(flags.vm) || flags.vm.length > 38) {
    throw new UsageError(`--vm takes a VM name ([a-z][a-z0-9-]*, at most 38 characters), not "${visible(flags.vm)}".`);
  }
  if (flags.force && flags.out === undefined) throw new UsageError('--force goes with -o FILE.');
  const home = resolve(flags.home ?? io.env.HOME ?? homeDir());
  const from = resolve(flags.from ?? join(home, 'nanoclaw'));
  const output = flags.out !== undefined ? resolve(flags.out) : undefined;
  if (output !== undefined && existsSync(output) && !flags.force) {
    throw new CommandFailure(EXIT.policy, `init: "${visible(flags.out!)}" exists; nothing was written.`, { hint: 'Add --force to replace it.' });
  }
  let result;
  try {
    result = initPolicy({
      from,
      home,
      vm: flags.vm,
      allowlistFile: resolve(flags.allowlist ?? join(home, '.config/nanoclaw/mount-allowlist.json')),
      ...(output !== undefined ? { output } : {}),
    });
  } catch (error) {
    if (error instanceof InitInputError) throw new CommandFailure(EXIT.policy, `init: ${error.message}`, { hint: 'Point --from at the NanoClaw folder (the one holding groups/ and data/).' });
    if (error instanceof InitCheckError) throw new CommandFailure(EXIT.policy, `init: ${error.message}`);
    throw error;
  }
  for (const w of result.warnings) io.stderr.write(`warning: ${w}\n`);
  if (output !== undefined) {
    try {
      // The README's first command writes into ~/.config/nanopolicy/, which a fresh home lacks.
      // Private (0700): the folder will hold the compiled output and the policy, nothing the VM needs.
      mkdirSync(dirname(output), { recursive: true, mode: 0o700 });
      writeFileSync(output, result.policy, { mode: 0o644, flag: flags.force ? 'w' : 'wx' });
    } catch (error) {
      throw new CommandFailure(EXIT.policy, `init: cannot write "${visible(flags.out!)}": ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`);
    }
  }
  if (flags.json) {
    io.stdout.write(`${JSON.stringify({ ok: true, ...(output !== undefined ? { written: output } : {}), policy: result.policy, warnings: result.warnings, found: result.found }, null, 2)}\n`);
  } else if (output === undefined) {
    io.stdout.write(result.policy);
  } else {
    io.stderr.write(`init: wrote ${visible(flags.out!)}: ${result.found.bridges} bridge${result.found.bridges === 1 ? '' : 's'}, ${result.found.mounts} share${result.found.mounts === 1 ? '' : 's'}. Next: nanopolicy check ${visible(flags.out!)}\n`);
  }
  return EXIT.ok;
}
