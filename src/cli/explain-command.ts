// `nanopolicy explain`: why the VM can or cannot reach an endpoint or see a host path.

import { homeDir } from '../lazy-builtins.ts';
import { Option, type Command } from 'commander';
import { compilePolicyFile } from '../compiler/compile.ts';
import { emitArtifacts } from '../compiler/emit/index.ts';
import { explain, ExplainTargetError, type FirewallBackend } from '../explain/explain.ts';
import { formatExplanation } from '../explain/format-explanation.ts';
import { EXIT, type Io } from './io.ts';
import type { SetExit } from './set-exit.ts';
import { UsageError } from './usage-error.ts';
import { reportDiagnostics } from './report-diagnostics.ts';
import { policyFailure } from './command-failure.ts';
import { POLICY_ARGUMENT_HELP, policyFile } from './default-policy.ts';

export function registerExplainCommand(program: Command, io: Io, setExit: SetExit): void {
  program
    .command('explain')
    .argument('[policy]', `${POLICY_ARGUMENT_HELP}; with one argument, it is the target`)
    .argument('[target]', 'HOST:PORT, a host name or address, or a host path (~/.ssh)')
    .description('Say why the VM can or cannot reach an endpoint or see a path: every layer in order, with the policy line and artifact line that decide.')
    .addOption(new Option('--backend <name>', 'the host firewall to walk: pf (macOS) or nft (Linux)').choices(['pf', 'nft']).default('pf'))
    .option('--home <dir>', 'folder "~" stands for (default: your home)')
    .option('--json', 'print the explanation as JSON on stdout')
    .addHelpText(
      'after',
      `
A packet from the VM meets softnet (tart's flags), then the host firewall (the pf anchor, or
the nft table), then, on the gateway, a socat bridge or the egress proxy (which connects only to
the names the egress rules list, never to an IP address). A path is visible only inside a share.
explain works offline on the compiled artifacts and never resolves a name.

Exit codes: 0 explained (reachable or not), 1 the policy has errors, 64 bad command line.

Examples:
  $ nanopolicy explain policy/nanoclaw.policy 10.0.30.5:8123
  $ nanopolicy explain policy/nanoclaw.policy 192.168.64.1:22
  $ nanopolicy explain policy/nanoclaw.policy bitwarden.cstrube.de
  $ nanopolicy explain policy/nanoclaw.policy api.anthropic.com:443
  $ nanopolicy explain policy/nanoclaw.policy ~/.ssh
  $ nanopolicy explain policy/nanoclaw.policy 1.1.1.1:443 --backend nft --json`,
    )
    .action(async (first: string | undefined, second: string | undefined, options: { backend: FirewallBackend; home?: string; json?: boolean }) => {
      // "explain TARGET" reads the default policy; "explain POLICY TARGET" the one named.
      if (first === undefined) throw new UsageError('explain needs a target: HOST:PORT, a host name or address, or a host path.');
      const target = second ?? first;
      const file = policyFile(second === undefined ? undefined : first, io);
      const outcome = await compilePolicyFile(file, { home: options.home ?? io.env.HOME ?? homeDir(), cwd: process.cwd() });
      if (!outcome.policy) throw policyFailure(file, outcome);
      let explanation;
      try {
        explanation = explain({ policy: outcome.policy, artifacts: emitArtifacts(outcome.policy), backend: options.backend, cwd: process.cwd() }, target);
      } catch (error) {
        if (error instanceof ExplainTargetError) throw new UsageError(`explain: ${error.message}.`);
        throw error;
      }
      if (options.json) io.stdout.write(`${JSON.stringify({ policy: file, backend: options.backend, ...explanation }, null, 2)}\n`);
      else io.stdout.write(formatExplanation(explanation, file));
      setExit(EXIT.ok);
    });
}
