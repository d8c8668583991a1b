// The CLI as users install it: `npm pack`, then `npm install -g --prefix TMP` of the tarball,
// offline (nothing may need fetching: no runtime dependency is left that the bundle holds), with
// no install-time warning; the installed `nanopolicy` then answers --help, compiles, runs check
// from the code cache it shipped with, and the package holds the docs and LICENSE but no source
// map or development files. Uses the dist/ that `npm test` built (npm pack --ignore-scripts).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = join(import.meta.dirname, '../..');
const t = suite('packed install');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

// Runs a program to completion; throws with its output when it fails.
function run(file: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): { stdout: string; stderr: string } {
  const r = spawnSync(file, args, { cwd: options.cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...options.env } });
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

t('npm pack, npm install -g --prefix (offline): a working nanopolicy, its cache used, docs and LICENSE shipped, no map', () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-pack-'));
  try {
    // A cache folder of its own: nothing the owner's npm cache holds can make a fetch look unneeded.
    const env = { npm_config_cache: join(dir, 'npm-cache'), npm_config_update_notifier: 'false' };
    const packed = run(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, env });
    const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = info!.files.map((f) => f.path).sort();
    for (const wanted of ['LICENSE', 'README.md', 'bin/nanopolicy.js', 'dist/cli.cjs', 'dist/vendor.cjs', 'dist/tldts.cjs', 'dist/picocolors.cjs', 'docs/cli.md', 'docs/policy-language.md', 'policy/nanoclaw.policy']) {
      assert.ok(files.includes(wanted), `${wanted} is in the package (${files.join(', ')})`);
    }
    assert.equal(files.filter((f) => /\.map$|^src\/|^test\/|^scripts\/|^bench\/|\.mjs$|tsconfig/.test(f)), [], 'no source map or development files');
    assert.ok(files.some((f) => /^dist\/cli\.cjs\.\d+-[0-9a-f]{16}\.default\.cache$/.test(f)), 'the code cache ships, named by build id');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; scripts: Record<string, string> };
    assert.equal(Object.keys(pkg.dependencies ?? {}), [], 'everything the CLI runs is in its own files');
    assert.not.ok(['preinstall', 'install', 'postinstall', 'prepare'].some((s) => s in pkg.scripts), 'no script runs at install');

    const prefix = join(dir, 'prefix');
    const installed = run(npm, ['install', '-g', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', join(dir, info!.filename)], { cwd: dir, env });
    assert.not.match(installed.stderr, /warn/i, `npm install printed no warning:\n${installed.stderr}`);
    const packageDir = join(prefix, 'lib/node_modules/nanopolicy');
    assert.not.ok(existsSync(join(packageDir, 'node_modules')), 'no runtime package was installed beside it');
    assert.ok(existsSync(join(packageDir, 'LICENSE')) && existsSync(join(packageDir, 'docs/cli.md')));
    assert.equal(readdirSync(join(packageDir, 'dist')).filter((f) => f.endsWith('.map')), []);

    const bin = join(prefix, 'bin/nanopolicy');
    const help = run(bin, ['--help'], { cwd: dir });
    assert.match(help.stdout, 'Usage: nanopolicy');
    const home = join(dir, 'home');
    const out = join(dir, 'out');
    const compiled = run(bin, ['compile', join(packageDir, 'policy/nanoclaw.policy'), '--home', '/Users/owner', '--user', 'owner', '-o', out], { cwd: dir, env: { HOME: home } });
    assert.match(compiled.stdout, `wrote ${join(out, 'anchor.pf')}`);
    // The boot job names the program that was run (the prefix's bin/nanopolicy link, which npm
    // keeps in place across upgrades), not an assumed /usr/local/bin.
    assert.match(readFileSync(join(out, 'launchd.plist'), 'utf8'), `<string>${bin}</string>`);
    const checked = run(bin, ['check', join(packageDir, 'policy/nanoclaw.policy'), '--home', '/Users/owner'], { cwd: dir, env: { NANOPOLICY_DEBUG: '1' } });
    assert.match(checked.stderr, /code cache accepted/, 'the installed CLI starts from the cache it shipped with');
    // Colour (a terminal, or FORCE_COLOR) loads picocolors from the package's own files too.
    const coloured = run(bin, ['check', join(packageDir, 'policy/nanoclaw.policy'), '--home', '/Users/owner'], { cwd: dir, env: { FORCE_COLOR: '1', NO_COLOR: '' } });
    assert.match(coloured.stderr, '\u001b[', 'a coloured warning');
    // A policy with a wildcard loads the public suffix list from the package's own files.
    const wild = run(bin, ['explain', join(ROOT, 'test/fixtures/valid/egress.policy'), 'x.example.org:443'], { cwd: dir });
    assert.ok(wild.stdout.length > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
