// `nanopolicy check` and `nanopolicy compile`: the CLI face of src/compiler.

import { homeDir, lazyOs } from '../lazy-builtins.ts';
import type { Command } from 'commander';
import { compilePolicyFile } from '../compiler/compile.ts';
import { hasErrors } from '../diagnostics/diagnostic.ts';
import { emitArtifacts } from '../compiler/emit/index.ts';
import { isWithin } from '../compiler/paths/expand-home.ts';
import { realPathOnHost } from '../compiler/paths/real-path.ts';
import { basename, resolve } from 'node:path';
import { checkAbsolutePath, checkDaemonUser, checkExecutable, checkOutputOption, checkSudoUser } from './check-compile-options.ts';
import { EXIT, useColor, type Io } from './io.ts';
import { UsageError } from './usage-error.ts';
import type { SetExit } from './set-exit.ts';
import { reportDiagnostics } from './report-diagnostics.ts';
import { renderSummary } from './render-summary.ts';
import { POLICY_ARGUMENT_HELP, policyFile } from './default-policy.ts';

interface CommonOptions {
  json?: boolean;
  home?: string;
}

const HOME_HELP = 'folder "~" in mount paths stands for (default: your home)';

export function registerCheckCommand(program: Command, io: Io, setExit: SetExit): void {
  program
    .command('check')
    .argument('[policy]', POLICY_ARGUMENT_HELP)
    .description('Parse and check a policy; print every problem with its place and a hint.')
    .option('--json', 'print the diagnostics as JSON on stdout')
    .option('--home <dir>', HOME_HELP)
    .addHelpText(
      'after',
      `
Exit codes: 0 no errors (warnings allowed), 1 the policy has errors, 64 bad command line.

Examples:
  $ nanopolicy check policy/nanoclaw.policy
  $ nanopolicy check policy/nanoclaw.policy --json | jq '.diagnostics[].message'`,
    )
    .action(async (given: string | undefined, options: CommonOptions) => {
      const file = policyFile(given, io);
      if (options.home !== undefined) checkAbsolutePath('--home', options.home, '"~" must mean one folder');
      // Checks only: the checked policy is not lowered into the form the emitters use.
      const outcome = await compilePolicyFile(file, { home: options.home ?? homeDir(), cwd: process.cwd(), lower: false, scanShares: true });
      const ok = !hasErrors(outcome.diagnostics);
      if (options.json) {
        io.stdout.write(`${JSON.stringify({ ok, file, diagnostics: outcome.diagnostics }, null, 2)}\n`);
      } else {
        reportDiagnostics(io, outcome.diagnostics, file, outcome.source);
        if (ok) io.stdout.write(`${file}: ok${outcome.diagnostics.length ? ` (${outcome.diagnostics.length} warning${outcome.diagnostics.length === 1 ? '' : 's'})` : ''}\n`);
      }
      setExit(ok ? EXIT.ok : EXIT.policy);
    });
}

export function registerCompileCommand(program: Command, io: Io, setExit: SetExit): void {
  program
    .command('compile')
    .argument('[policy]', POLICY_ARGUMENT_HELP)
    .description('Check a policy and emit the pf anchor, tart run script, socat bridges, hosts lines, verify manifest, launchd plist and sudoers lines.')
    .option('-o, --out <dir>', 'write the artifacts into this folder (all or nothing); without it, print a summary')
    .option('--json', 'print diagnostics and the artifact list as JSON on stdout')
    .option('--home <dir>', HOME_HELP)
    .option('--user <name>', 'host user who owns the VM and runs the launchd job (default: you)')
    .option('--sudo-user <user>', 'who the sudoers lines are for: a user or %group (default %admin)')
    .option('--program <path>', 'absolute path of nanopolicy for the launchd plist, an existing executable (default: the nanopolicy running now)')
    .addHelpText(
      'after',
      `
Without -o, compile prints what the VM may reach and see, and which files it would write.
With -o DIR it writes: anchor.pf, bridges.sh, hosts, launchd.plist, manifest.json, nft.conf,
sudoers, tart-run.sh, verify.json (manifest.json holds the sha256 of each and of the policy).
Output is byte-for-byte deterministic: the same policy gives the same files.

Exit codes: 0 compiled, 1 the policy has errors (nothing written), 64 bad command line.

Examples:
  $ nanopolicy compile policy/nanoclaw.policy
  $ nanopolicy compile policy/nanoclaw.policy -o ~/.config/nanopolicy/out
  $ nanopolicy compile policy/nanoclaw.policy -o out --json`,
    )
    .action(async (given: string | undefined, options: CommonOptions & { out?: string; sudoUser?: string; program?: string; user?: string }) => {
      const file = policyFile(given, io);
      if (options.user !== undefined && !/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(options.user)) {
        throw new UsageError(`--user takes a user name, not "${options.user}".`);
      }
      if (options.program !== undefined) checkAbsolutePath('--program', options.program, 'launchd has no useful PATH');
      if (options.home !== undefined) checkAbsolutePath('--home', options.home, '"~" must mean one folder');
      if (options.sudoUser !== undefined) checkSudoUser(options.sudoUser);
      if (options.out !== undefined) checkOutputOption(options.out);
      // Without --home, the user is whoever runs this; with it, the home folder's last segment.
      const user = options.user ?? (options.home === undefined ? lazyOs().userInfo().username : undefined);
      // Only files written can be installed: a summary (no -o) run as root harms nothing, so the
      // quick start works under sudo and in CI; an explicit --user root is refused all the same.
      if (options.out !== undefined || options.user !== undefined) checkDaemonUser(user ?? basename(options.home ?? homeDir()));
      const outcome = await compilePolicyFile(file, {
        home: options.home ?? homeDir(),
        ...(user !== undefined ? { user } : {}),
        cwd: process.cwd(),
        scanShares: true,
        ...(options.out !== undefined ? { outputDir: options.out } : {}),
      });
      const policy = outcome.policy;
      if (!policy) {
        if (options.json) io.stdout.write(`${JSON.stringify({ ok: false, file, diagnostics: outcome.diagnostics, artifacts: [] }, null, 2)}\n`);
        else reportDiagnostics(io, outcome.diagnostics, file, outcome.source);
        setExit(EXIT.policy);
        return;
      }
      // The LaunchDaemon runs the program with the owner's sudo rights to pfctl: a program the VM
      // can rewrite through a share would let it open its own cage at the next boot.
      // Only written files are installed: the running program is named with -o (a summary shows none).
      const program = options.program ?? (options.out !== undefined ? io.program : undefined);
      if (program !== undefined) {
        const flag = options.program !== undefined ? '--program' : 'The running nanopolicy';
        const share = policy.mounts.find((m) => m.mode === 'rw' && [program, realPathOnHost(program)].some((p) => isWithin(p, m.path) || isWithin(p, realPathOnHost(m.path))));
        if (share) throw new UsageError(`${flag} "${program}" lies inside the read-write mount "${share.name}": the VM could replace the program the boot job runs.`);
        // A boot job that names nothing runnable fails at every boot, silently, with the VM uncaged.
        if (options.program !== undefined) checkExecutable('--program', program);
      }
      const artifacts = emitArtifacts(policy, {
        ...(program !== undefined ? { program } : {}),
        ...(options.sudoUser !== undefined ? { sudoUser: options.sudoUser } : {}),
      });
      if (options.out === undefined) {
        if (options.json) {
          const list = artifacts.map((a) => ({ name: a.name, bytes: Buffer.byteLength(a.content), description: a.description }));
          io.stdout.write(`${JSON.stringify({ ok: true, file, sha256: policy.source.sha256, diagnostics: outcome.diagnostics, artifacts: list }, null, 2)}\n`);
        } else {
          reportDiagnostics(io, outcome.diagnostics, file, outcome.source);
          io.stdout.write(renderSummary(policy, artifacts, useColor(io.stdout, io.env)));
        }
        setExit(EXIT.ok);
        return;
      }
      // Loaded only to write (node:fs/promises is start-up time that check and the summary do not need).
      const { OutputError, writeArtifacts } = await import('../compiler/write-artifacts.ts');
      let written;
      const stale: Array<{ name: string; path: string; removed: boolean; why?: string }> = [];
      try {
        written = await writeArtifacts(options.out, artifacts, {
          policyPath: resolve(process.cwd(), file),
          stale: (e) => stale.push(e),
        });
      } catch (error) {
        if (error instanceof OutputError) throw new UsageError(`-o: ${error.message}`);
        throw error;
      }
      if (options.json) {
        const removed = stale.filter((e) => e.removed).map((e) => e.path);
        const kept = stale.filter((e) => !e.removed).map((e) => ({ path: e.path, why: e.why }));
        io.stdout.write(`${JSON.stringify({ ok: true, file, sha256: policy.source.sha256, diagnostics: outcome.diagnostics, artifacts: written, removed, kept }, null, 2)}\n`);
      } else {
        reportDiagnostics(io, outcome.diagnostics, file, outcome.source);
        for (const w of written) io.stdout.write(`wrote ${w.path}\n`);
        for (const e of stale) {
          if (e.removed) io.stdout.write(`removed ${e.path} (an earlier compile wrote it; this policy no longer needs it)\n`);
          else io.stderr.write(`compile: kept ${e.path}, which this policy no longer needs: ${e.why}; remove it yourself if it is not wanted.\n`);
        }
      }
      setExit(EXIT.ok);
    });
}
