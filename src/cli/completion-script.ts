// Shell completion scripts for bash, zsh and fish, made from the command table itself (so a new
// command or flag completes without editing three scripts). Pure: the table in, the script's text out.

export interface CompletionCommand {
  name: string;
  description: string;
  /** Long flags, with whether each takes a value and, when fixed, its choices. */
  options: Array<{ flag: string; takesValue: boolean; choices?: readonly string[]; description: string }>;
  /** The first argument is a policy file (complete *.policy files). */
  policyArgument: boolean;
  /** Its own subcommands (guest: install, check), with their flags merged into `options`. */
  subcommands?: string[];
}

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

// The script for `shell`; every word in it is from the table, which holds only our own names.
export function completionScript(shell: Shell, commands: readonly CompletionCommand[]): string {
  if (shell === 'bash') return bash(commands);
  if (shell === 'zsh') return zsh(commands);
  return fish(commands);
}

function bash(commands: readonly CompletionCommand[]): string {
  const cases = commands
    .map((c) => {
      const flags = c.options.map((o) => o.flag).join(' ');
      const valued = c.options.filter((o) => o.takesValue);
      const valueCases = valued
        .map((o) => `        ${o.flag}) COMPREPLY=( $(compgen ${o.choices ? `-W '${o.choices.join(' ')}'` : '-f'} -- "$cur") ); return ;;`)
        .join('\n');
      return [
        `    ${c.name})`,
        ...(c.subcommands ? [`      if [[ $COMP_CWORD -eq 2 ]]; then COMPREPLY=( $(compgen -W '${c.subcommands.join(' ')}' -- "$cur") ); return; fi`] : []),
        ...(valueCases ? ['      case "$prev" in', valueCases, '      esac'] : []),
        `      if [[ "$cur" == -* ]]; then COMPREPLY=( $(compgen -W '${flags} --help' -- "$cur") ); else COMPREPLY=( $(compgen ${c.policyArgument ? "-f -X '!*.policy' -o plusdirs" : '-f'} -- "$cur") ); fi`,
        '      ;;',
      ].join('\n');
    })
    .join('\n');
  return `# bash completion for nanopolicy (nanopolicy completion bash > ~/.local/share/bash-completion/completions/nanopolicy)
_nanopolicy() {
  local cur prev cmd
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmd="\${COMP_WORDS[1]}"
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=( $(compgen -W '${commands.map((c) => c.name).join(' ')} --help --version' -- "$cur") )
    return
  fi
  case "$cmd" in
${cases}
  esac
}
complete -o filenames -F _nanopolicy nanopolicy
`;
}

function zsh(commands: readonly CompletionCommand[]): string {
  const q = (text: string) => text.replace(/'/g, "'\\''").replace(/[[\]:]/g, '\\$&');
  const list = commands.map((c) => `    '${c.name}:${q(c.description)}'`).join('\n');
  const cases = commands
    .map((c) => {
      const specs = c.options.map((o) => {
        const value = o.takesValue ? `:${o.flag.slice(2)}:${o.choices ? `(${o.choices.join(' ')})` : '_files'}` : '';
        return `        '${o.flag}[${q(o.description)}]${value}'`;
      });
      const arg = c.subcommands
        ? [`        '1:subcommand:(${c.subcommands.join(' ')})'`, `        '2:policy file:_files -g "*.policy"'`]
        : c.policyArgument
          ? [`        '1:policy file:_files -g "*.policy"'`]
          : ['        "*:file:_files"'];
      return [`      (${c.name})`, '        _arguments \\', [...specs, ...arg].join(' \\\n'), '        ;;'].join('\n');
    })
    .join('\n');
  return `#compdef nanopolicy
# zsh completion for nanopolicy (nanopolicy completion zsh > "\${fpath[1]}/_nanopolicy")
_nanopolicy() {
  local -a commands
  commands=(
${list}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  local cmd=\${words[2]}
  shift words
  (( CURRENT-- ))
  case $cmd in
${cases}
  esac
}
compdef _nanopolicy nanopolicy
`;
}

function fish(commands: readonly CompletionCommand[]): string {
  const q = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const lines = [
    '# fish completion for nanopolicy (nanopolicy completion fish > ~/.config/fish/completions/nanopolicy.fish)',
    'complete -c nanopolicy -f',
    ...commands.map((c) => `complete -c nanopolicy -n __fish_use_subcommand -a ${c.name} -d ${q(c.description)}`),
  ];
  for (const c of commands) {
    const when = `-n '__fish_seen_subcommand_from ${c.name}'`;
    if (c.subcommands) lines.push(`complete -c nanopolicy ${when} -n 'not __fish_seen_subcommand_from ${c.subcommands.join(' ')}' -a ${q(c.subcommands.join(' '))}`);
    // Policy files after the subcommand, when there is one (guest install POLICY).
    const policyWhen = c.subcommands ? `-n '__fish_seen_subcommand_from ${c.name}; and __fish_seen_subcommand_from ${c.subcommands.join(' ')}'` : when;
    if (c.policyArgument) lines.push(`complete -c nanopolicy ${policyWhen} -F -a '(__fish_complete_suffix .policy)'`);
    for (const o of c.options) {
      const value = o.takesValue ? (o.choices ? ` -x -a ${q(o.choices.join(' '))}` : ' -r -F') : '';
      lines.push(`complete -c nanopolicy ${when} -l ${o.flag.slice(2)}${value} -d ${q(o.description)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
