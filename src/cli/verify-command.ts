// `nanopolicy verify`: the CLI face of src/verify. Host mode runs the host checks, the canaries and
// the probes in the VM; `--inside` runs the probes here (in the VM). Prints the table or JSON.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { homeDir, lazyNet } from '../lazy-builtins.ts';
import type { Command } from 'commander';
import { colors } from '../colors.ts';
import { compilePolicyFile } from '../compiler/compile.ts';
import { buildVerifyManifest } from '../compiler/emit/verify-manifest.ts';
import { artifactsFor } from '../compiler/artifacts-from-emitters.ts';
import type { EnforceArtifacts } from '../compiler/enforce-artifacts.ts';
import type { Policy } from '../compiler/policy.ts';
import type { VerifyManifest } from '../formats/verify-manifest.ts';
import type { InsideOptions, ProbeResult } from '../verify/inside/result.ts';
import type { Backend } from '../verify/host/verify-host.ts';
import { formatReport, NO_PAINT, type Paint } from '../verify/format-report.ts';
import { parseEndpoints } from '../verify/parse-endpoints.ts';
import { EXIT, useColor, type Io } from './io.ts';
import type { SetExit } from './set-exit.ts';
import { UsageError } from './usage-error.ts';
import { reportDiagnostics } from './report-diagnostics.ts';
import { defaultStateDir } from '../formats/enforce-state.ts';
import { recordVerify } from '../snapshots/record-verify.ts';
import { policyFailure } from './command-failure.ts';
import { PROBE_GROUPS } from '../verify/inside/probe-groups.ts';
import { didYouMean } from '../did-you-mean.ts';
import { POLICY_ARGUMENT_HELP, policyFile } from './default-policy.ts';

interface VerifyCliOptions {
  inside?: boolean;
  backend?: string;
  exec?: string;
  egress?: string;
  dnsServers?: string;
  dnsName?: string;
  ca?: string;
  sharesRoot?: string;
  timeout?: string;
  budget?: string;
  maxSockets?: string;
  skip?: string;
  json?: boolean;
  home?: string;
  stateDir?: string;
  injectRequest?: string;
  injectEcho?: string;
}

export function registerVerifyCommand(program: Command, io: Io, setExit: SetExit): void {
  program
    .command('verify')
    .argument('[policy]', `${POLICY_ARGUMENT_HELP}; with --inside, its compiled verify.json`)
    .description('Prove the cage holds: host checks, canaries on the gateway, and probes run inside the VM.')
    .option('--inside', 'run the probes here, inside the VM, instead of from the host')
    .option('--backend <pf|nft|none>', 'host firewall to check (default: pf on macOS, nft on Linux)')
    .option('--exec <prefix>', 'command prefix that runs a program in the VM (default: "tart exec -i <vm>")')
    .option('--egress <list>', 'ADDR:PORT,… that must be blocked, replacing the built-in public list (and its ping/DNS targets)')
    .option('--dns-servers <list>', 'resolver addresses that must not answer UDP DNS (the gateway is always asked)')
    .option('--dns-name <name>', 'a name the VM must fail to resolve (default example.com)')
    .option('--ca <file>', 'PEM CA bundle to trust for TLS bridges besides the system store')
    .option('--shares-root <dir>', 'where shares appear in the VM (default "/Volumes/My Shared Files")')
    .option('--timeout <ms>', 'how long a probe waits for an answer before it calls the path silent (default 1200; widen it on a slow link)')
    .option('--budget <ms>', 'for all probes together (default 180000)')
    .option('--max-sockets <n>', 'sockets open at once, at most (default: 4096, or half the open-files limit)')
    .option('--skip <groups>', 'probe groups to leave out: bridges,hosts,gateway,direct,proxy,inject,egress,dns,icmp,mounts')
    .option('--inject-request <list>', 'HOST=METHOD/PATH,…: the authenticated request verify sends with the placeholder to an injected name (built in: api.anthropic.com, discord.com, api.github.com)')
    .option('--inject-echo <host:port/path>', 'a listed name without injection that echoes requests (a lab): the placeholders sent there must come back unchanged')
    .option('--json', 'print the rows and figures as JSON on stdout')
    .option('--home <dir>', 'folder "~" in mount paths stands for (default: your home)')
    .option('--state-dir <dir>', "enforce's state directory: the egress proxy's pid and audit log, and where the result is recorded for status and snapshots (default as for enforce)")
    .addHelpText(
      'after',
      `
Exit codes: 0 every expectation holds, 2 any does not or could not be checked (each is named; a
check that could not run is NOT RUN, never a pass), 1 the policy has errors, 64 bad command line.

The built-in egress targets are real public addresses: use them on a real VM only.

Examples:
  $ nanopolicy verify policy/nanoclaw.policy
  $ nanopolicy verify policy/nanoclaw.policy --backend nft --exec "ip netns exec lab-vm" \\
      --egress 203.0.113.10:443,203.0.113.53:53 --dns-name web.lab.test --ca lab-ca.pem
  $ node - < probe-input.js            # what the host sends the VM (dist/probe.cjs)`,
    )
    .action(async (given: string | undefined, options: VerifyCliOptions) => {
      const file = policyFile(given, io);
      const inside = insideOptions(options);
      const color = useColor(io.stdout, io.env);
      const c = colors(color);
      const paint: Paint = color ? { red: c.red, green: c.green, dim: c.dim, bold: c.bold } : NO_PAINT;
      const progress = progressPrinter(io);
      let results: ProbeResult[];
      let figures: unknown;
      if (options.inside) {
        const manifest = file.endsWith('.json') ? readManifest(file) : (await loadPolicy(file, options, io))?.manifest;
        if (!manifest) return setExit(EXIT.policy);
        const { runProbes } = await import('../verify/inside/run-probes.ts'); // loaded only when it runs (start-up, issue 9)
        const report = await runProbes({ manifest, options: inside }, progress.update);
        progress.done();
        results = report.results;
        figures = { inside: report.stats };
      } else {
        const loaded = await loadPolicy(file, options, io);
        if (!loaded) return setExit(EXIT.policy);
        const [{ verifyHost }, { splitPrefix }] = await Promise.all([import('../verify/host/verify-host.ts'), import('../verify/host/run-inside.ts')]);
        const report = await verifyHost({
          policy: loaded.policy,
          artifacts: loaded.artifacts,
          manifest: loaded.manifest,
          backend: backendOf(options.backend),
          exec: options.exec ? splitPrefix(options.exec) : ['tart', 'exec', '-i', loaded.policy.vm],
          inside,
          stateDir: resolve(options.stateDir ?? defaultStateDir(loaded.policy.vm, io.env, process.getuid?.())),
          // pfctl through `sudo -n` (the compiled sudoers lines) unless verify already runs as root.
          pf: { asRoot: process.getuid?.() === 0 },
          // The tart and softnet processes exist only for a tart VM (not behind a custom --exec).
          processes: options.exec === undefined,
          onProgress: progress.update,
        });
        progress.done();
        results = report.results;
        figures = { inside: report.inside, totalMs: report.totalMs };
        const stateDir = options.stateDir ?? defaultStateDir(loaded.policy.vm, io.env, process.getuid?.());
        rememberVerify(stateDir, results, io);
      }
      const ok = results.every((r) => r.ok);
      if (options.json) io.stdout.write(`${JSON.stringify({ ok, wrong: results.filter((r) => !r.ok).length, notProbed: results.filter((r) => r.ok && r.probed === false).length, results, ...(figures as object) }, null, 2)}\n`);
      else io.stdout.write(formatReport(results, paint));
      setExit(ok ? EXIT.ok : EXIT.verifyFailed);
    });
}

// The options that travel into the VM, checked here so a typo is a usage error (64), not a probe failure.
function insideOptions(o: VerifyCliOptions): InsideOptions {
  const out: InsideOptions = {};
  try {
    if (o.egress !== undefined) out.egress = parseEndpoints(o.egress);
  } catch (e) {
    throw new UsageError(`--egress: ${(e as Error).message}`);
  }
  if (o.dnsServers !== undefined) {
    out.dnsServers = o.dnsServers.split(',').map((s) => s.trim()).filter(Boolean);
    // Addresses only: a name would be looked up (getaddrinfo) in the probe's own process, which a
    // stalled resolver then holds past its budget (issue 24), and it is not what is being tested.
    const name = out.dnsServers.find((s) => lazyNet().isIP(s) === 0);
    if (name !== undefined) throw new UsageError(`--dns-servers takes resolver addresses, not "${name}".`);
  }
  if (o.dnsName !== undefined) out.dnsName = o.dnsName;
  if (o.ca !== undefined) {
    try {
      out.caPem = readFileSync(o.ca, 'utf8');
    } catch (e) {
      throw new UsageError(`--ca: cannot read "${o.ca}" (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`);
    }
  }
  if (o.sharesRoot !== undefined) out.sharesRoot = o.sharesRoot;
  if (o.timeout !== undefined) out.connectTimeoutMs = positive('--timeout', o.timeout);
  if (o.budget !== undefined) out.budgetMs = positive('--budget', o.budget);
  if (o.maxSockets !== undefined) out.maxSockets = positive('--max-sockets', o.maxSockets);
  if (o.skip !== undefined) out.skip = skipGroups(o.skip);
  if (o.injectRequest !== undefined) out.injectRequests = injectRequests(o.injectRequest);
  if (o.injectEcho !== undefined) {
    if (!/^[A-Za-z0-9.-]+:\d{1,5}\/\S*$/.test(o.injectEcho)) throw new UsageError(`--inject-echo takes host:port/path, not "${o.injectEcho}".`);
    out.injectEcho = o.injectEcho;
  }
  return out;
}

// --inject-request HOST=METHOD/PATH,…: one request per injected name, read-only by intent (the
// owner picks it; verify sends it with the placeholders through the proxy, which adds the secret).
function injectRequests(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9.-]+)=([A-Z]+)(\/[\x21-\x7e]*)$/.exec(item);
    if (!m) throw new UsageError(`--inject-request: "${item}" is not HOST=METHOD/PATH (e.g. api.anthropic.com=GET/v1/models).`);
    out[m[1]!.toLowerCase()] = `${m[2]} ${m[3]}`;
  }
  return out;
}

// The --skip list; a group that does not exist is refused, never ignored: skipping nothing while
// the owner believes a slow group is skipped is harmless, but "--skip gatway" reads as a typo that
// would leave the gateway sweep out of a proof the owner thinks is whole.
function skipGroups(value: string): string[] {
  const groups = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const g of groups) {
    if ((PROBE_GROUPS as readonly string[]).includes(g)) continue;
    const near = didYouMean(g, PROBE_GROUPS);
    throw new UsageError(`--skip: there is no probe group "${g}"${near ? ` (did you mean "${near}"?)` : ''}; the groups are ${PROBE_GROUPS.join(', ')}.`);
  }
  return groups;
}

function positive(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} takes a positive whole number, not "${value}".`);
  return n;
}

function backendOf(value: string | undefined): Backend {
  if (value === undefined) return process.platform === 'darwin' ? 'pf' : 'nft';
  if (value === 'pf' || value === 'nft' || value === 'none') return value;
  throw new UsageError(`--backend takes pf, nft or none, not "${value}".`);
}

function readManifest(file: string): VerifyManifest {
  try {
    const m = JSON.parse(readFileSync(file, 'utf8')) as VerifyManifest;
    if (m.format !== 1 || m.generatedBy !== 'nanopolicy') throw new Error('not a nanopolicy verify.json (format 1)');
    return m;
  } catch (e) {
    throw new UsageError(`cannot read "${file}": ${(e as Error).message}.`);
  }
}

// Compiles the policy once; what verify checks inside the VM and on the host comes from here.
async function loadPolicy(file: string, o: VerifyCliOptions, io: Io): Promise<{ policy: Policy; manifest: VerifyManifest; artifacts: EnforceArtifacts } | undefined> {
  const outcome = await compilePolicyFile(file, { home: o.home ?? homeDir(), cwd: process.cwd() });
  if (!outcome.policy) throw policyFailure(file, outcome);
  return { policy: outcome.policy, manifest: buildVerifyManifest(outcome.policy), artifacts: artifactsFor(outcome.policy) };
}

// Sweep progress on stderr, on a TTY only, rewritten in place.
function progressPrinter(io: Io): { update?: (done: number, total: number) => void; done(): void } {
  if (io.stderr.isTTY !== true) return { done: () => undefined };
  let shown = false;
  return {
    update: (done, total) => {
      shown = true;
      io.stderr.write(`\r\x1b[Kgateway sweep: ${done}/${total} ports (${Math.floor((done * 100) / total)}%)`);
    },
    done: () => {
      if (shown) io.stderr.write('\r\x1b[K');
    },
  };
}

// Keeps the result for `status` and `snapshots`; a record that cannot be written costs a note,
// never the verify.
function rememberVerify(stateDir: string, results: readonly ProbeResult[], io: Io): void {
  try {
    recordVerify(stateDir, { ok: results.every((r) => r.ok), wrong: results.filter((r) => !r.ok).length, at: new Date().toISOString() });
  } catch (error) {
    io.stderr.write(`verify: could not record the result in ${stateDir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}\n`);
  }
}
