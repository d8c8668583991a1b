// `nanopolicy completion bash|zsh|fish`: prints the shell's completion script for every command.

import type { Command } from 'commander';
import { didYouMean } from '../did-you-mean.ts';
import { EXIT, type Io } from './io.ts';
import type { SetExit } from './set-exit.ts';
import { UsageError } from './usage-error.ts';
import { completionScript, SHELLS, type CompletionCommand, type Shell } from './completion-script.ts';

export function registerCompletionCommand(program: Command, io: Io, setExit: SetExit): void {
  program
    .command('completion')
    .argument('<shell>', `the shell: ${SHELLS.join(', ')}`)
    .description('Print a shell completion script for nanopolicy: its commands, their flags, policy files.')
    .addHelpText(
      'after',
      `
Exit codes: 0 printed, 64 an unknown shell.

Examples:
  $ nanopolicy completion bash > ~/.local/share/bash-completion/completions/nanopolicy
  $ nanopolicy completion zsh > "\${fpath[1]}/_nanopolicy"
  $ nanopolicy completion fish > ~/.config/fish/completions/nanopolicy.fish`,
    )
    .action((shell: string) => {
      if (!(SHELLS as readonly string[]).includes(shell)) {
        const near = didYouMean(shell, SHELLS);
        throw new UsageError(`completion: there is no script for "${shell}"${near ? ` (did you mean "${near}"?)` : ''}; the shells are ${SHELLS.join(', ')}.`);
      }
      io.stdout.write(completionScript(shell as Shell, commandTable(program)));
      setExit(EXIT.ok);
    });
}

// The table the scripts are made from: every registered command and its long flags.
export function commandTable(program: Command): CompletionCommand[] {
  return program.commands.map((c) => {
    // A command with subcommands (guest) completes them first, then their flags, merged.
    const subs = c.commands;
    const all = [c, ...subs];
    const seen = new Set<string>();
    const options = all
      .flatMap((x) => x.options)
      .filter((o) => o.long !== undefined && !seen.has(o.long) && seen.add(o.long) !== undefined)
      .map((o) => ({ flag: o.long!, takesValue: o.required || o.optional, ...(o.argChoices ? { choices: o.argChoices } : {}), description: o.description }));
    return {
      name: c.name(),
      description: c.description(),
      policyArgument: all.some((x) => x.registeredArguments[0]?.name() === 'policy'),
      options,
      ...(subs.length > 0 ? { subcommands: subs.map((s) => s.name()) } : {}),
    };
  });
}
