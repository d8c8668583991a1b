// `nanopolicy completion SHELL`: each script is checked by the shell itself (bash -n, zsh -n,
// fish --no-execute), and bash and fish are asked to complete a command, a flag, a flag's choices
// and a policy file. Under CI a missing shell fails the file (.ci/run installs zsh and fish).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../helpers/run-cli.ts';

const t = suite('completion');

// Whether `shell` is installed; under CI its absence fails the test instead of skipping it.
function have(shell: string): boolean {
  if (spawnSync('sh', ['-c', `command -v ${shell}`], { stdio: 'ignore' }).status === 0) return true;
  if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(`${shell} is not installed (CI=true: failing instead of skipping; .ci/run installs it)`);
  process.stderr.write(`notice: skipping the ${shell} completion checks: ${shell} is not installed.\n`);
  return false;
}

async function script(shell: string, dir: string): Promise<string> {
  const r = await runCli(['completion', shell]);
  assert.is(r.code, 0, r.stderr);
  const file = join(dir, `completion.${shell}`);
  writeFileSync(file, r.stdout);
  return file;
}

t('every shell accepts its script, and bash and fish complete commands, flags, choices and policy files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-completion-'));
  try {
    writeFileSync(join(dir, 'home.policy'), 'vm v\n');
    writeFileSync(join(dir, 'home.txt'), '');
    if (have('bash')) {
      const file = await script('bash', dir);
      assert.is(spawnSync('bash', ['-n', file]).status, 0);
      const ask = (words: string[]) =>
        spawnSync('bash', ['-c', `source "$1"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _nanopolicy; printf '%s\\n' "\${COMPREPLY[@]}"`, 'x', file], { cwd: dir, encoding: 'utf8' }).stdout.trim().split('\n');
      assert.equal(ask(['nanopolicy', 'st']), ['status']);
      assert.equal(ask(['nanopolicy', 'verify', '--sk']), ['--skip']);
      assert.equal(ask(['nanopolicy', 'explain', '--backend', '']), ['pf', 'nft']);
      assert.equal(ask(['nanopolicy', 'check', 'home']), ['home.policy'], 'a policy argument completes .policy files only');
      assert.ok(ask(['nanopolicy', '']).includes('completion'));
      assert.equal(ask(['nanopolicy', 'guest', 'in']), ['install'], 'a subcommand');
      assert.equal(ask(['nanopolicy', 'guest', 'install', '--dry']), ['--dry-run']);
    }
    if (have('zsh')) {
      const file = await script('zsh', dir);
      const r = spawnSync('zsh', ['-n', file], { encoding: 'utf8' });
      assert.is(r.status, 0, r.stderr);
    }
    if (have('fish')) {
      const file = await script('fish', dir);
      assert.is(spawnSync('fish', ['--no-execute', file]).status, 0);
      const ask = (line: string) => spawnSync('fish', ['-c', `source ${file}; complete -C '${line}'`], { cwd: dir, encoding: 'utf8' }).stdout.trim().split('\n').map((l) => l.split('\t')[0]);
      assert.equal(ask('nanopolicy sta'), ['status']);
      assert.equal(ask('nanopolicy verify --sk'), ['--skip']);
      assert.equal(ask('nanopolicy explain --backend ').sort(), ['nft', 'pf']);
      assert.equal(ask('nanopolicy guest ').sort(), ['check', 'install']);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t('an unknown shell is a usage error with a did-you-mean', async () => {
  const r = await runCli(['completion', 'zhs']);
  assert.is(r.code, 64);
  assert.match(r.stderr, 'there is no script for "zhs" (did you mean "zsh"?); the shells are bash, zsh, fish.');
});

t.run();
