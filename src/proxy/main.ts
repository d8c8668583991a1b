// The proxy process: `node dist/proxy.js --config FILE`. Prints "listening HOST:PORT" on stdout
// once bound (enforce waits for that line), diagnostics on stderr, and exits non-zero with one
// line on a bad config or a failed bind. SIGTERM and SIGINT close every tunnel and the log.
// SIGHUP (enforce --supervise sends it each interval) and a change to a secret file re-read the
// secrets; a source that fails then keeps the value read before and is named in the log.

import { readFileSync, watchFile } from 'node:fs';
import { parseProxyConfig } from '../formats/proxy-config.ts';
import { startProxy } from './server.ts';
import type { Injector } from '../inject/injector.ts';

// Reads the one option this process takes.
function configPath(argv: string[]): string {
  const i = argv.indexOf('--config');
  const path = i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith('--config='))?.slice('--config='.length);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write('usage: node dist/proxy.js --config FILE\nThe egress proxy nanopolicy enforce starts; see docs/egress.md.\n');
    process.exit(0);
  }
  if (!path) throw new Error('usage: node dist/proxy.js --config FILE');
  return path;
}

// Reads the config, starts the proxy, announces it, and stops it on a signal.
async function main(): Promise<void> {
  const path = configPath(process.argv.slice(2));
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read proxy config ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const config = parseProxyConfig(text);
  // The same override enforce honours for bridge names: names resolve from that file alone.
  const hostsFile = process.env.NANOPOLICY_HOSTS_FILE;
  // Secrets are read (and the CA loaded) before the proxy listens: a source that fails stops the
  // start with the item's name, never a proxy that runs without the credential.
  // Loaded only then: the injecting layer brings node-forge and TLS termination, which a proxy
  // without secrets never uses (it starts in less time and memory without them).
  const injector = config.inject
    ? await (await import('../inject/injector.ts')).createInjector(config.inject, { vm: config.vm, ownerUid: process.getuid?.() ?? 0, env: process.env, idleMs: config.timeouts.idleMs })
    : undefined;
  const proxy = await startProxy(config, {
    ...(injector && { injector }),
    ...(hostsFile && { hostsFile, hostsOnly: true }),
    log: (line) => process.stderr.write(`nanopolicy-proxy: ${line}\n`),
  });
  // Before the "listening" line: from then on the supervisor may send SIGHUP, whose default ends us.
  if (injector) keepSecretsFresh(injector, (line) => process.stderr.write(`nanopolicy-proxy: ${line}\n`), (record) => proxy.record(record));
  process.stdout.write(`listening ${proxy.address.host}:${proxy.address.port}\n`);
  const stop = (signal: string): void => {
    process.stderr.write(`nanopolicy-proxy: ${signal}, closing ${proxy.connections()} connection(s)\n`);
    void proxy.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

// Re-reads the secrets on SIGHUP and when a secret file changes (mtime, ctime — a chmod too — size,
// inode). One re-read at a time; one asked for meanwhile runs after it, so the last change is never
// missed. What the owner must know goes to the audit log too, where `nanopolicy log` shows it: a
// source that starts failing, the same source readable again, a new value taken into use. Said once
// per change of state, not per re-read: the supervisor asks every interval, all day, and a locked
// keychain would otherwise write a line each time (to proxy.log as well).
function keepSecretsFresh(injector: Injector, log: (line: string) => void, record: (r: object) => void): void {
  let running: Promise<void> | undefined;
  let again: string | undefined;
  const failing = new Set<string>();
  const time = () => new Date().toISOString();
  const reload = (why: string): void => {
    if (running) {
      again = why;
      return;
    }
    running = injector.reload().then(
      ({ changed, failures }) => {
        // Names only: a failure's message and hint never hold the value (read-secret.ts).
        for (const f of failures) {
          if (failing.has(f.name)) continue;
          failing.add(f.name);
          log(`re-reading the secrets (${why}): ${f.message} The value read before stays in use. ${f.hint}`);
          record({ time: time(), kind: 'secret-unreadable', secret: f.name, reason: f.message, hint: f.hint, why });
        }
        for (const name of [...failing]) {
          if (failures.some((f) => f.name === name)) continue;
          failing.delete(name);
          log(`re-read the secrets (${why}): "${name}" is readable again`);
          record({ time: time(), kind: 'secret-readable', secret: name, why });
        }
        if (changed.length > 0) {
          log(`re-read the secrets (${why}): new value for ${changed.map((n) => `"${n}"`).join(', ')}`);
          record({ time: time(), kind: 'secret-changed', secrets: changed, why });
        }
      },
      (error: Error) => log(`re-reading the secrets (${why}) failed: ${error.message}`),
    ).finally(() => {
      running = undefined;
      if (again !== undefined) {
        const next = again;
        again = undefined;
        reload(next);
      }
    });
  };
  process.on('SIGHUP', () => reload('SIGHUP'));
  // Polled (stat every second), not fs.watch: it follows a file replaced by rename, as editors and
  // `install -m 600` do, and one that is missing for a while.
  for (const file of injector.files) {
    watchFile(file, { interval: 1000, persistent: false }, (now, before) => {
      if (now.mtimeMs !== before.mtimeMs || now.ctimeMs !== before.ctimeMs || now.size !== before.size || now.ino !== before.ino) reload(`${file} changed`);
    });
  }
}

// A stray exception in one connection must not take the proxy down silently: log it and go on
// (each socket's state is already torn down by its own handlers).
process.on('uncaughtException', (error) => process.stderr.write(`nanopolicy-proxy: unexpected error: ${error.stack ?? error}\n`));

main().catch((error: Error) => {
  process.stderr.write(`nanopolicy-proxy: ${error.message}\n`);
  process.exit(1);
});
