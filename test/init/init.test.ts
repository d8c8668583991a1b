// init: NanoClaw-shaped installs built here, the policy written compared with golden files, and
// every policy run through the compiler.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { compilePolicy } from '../../src/compiler/compile.ts';
import { initPolicy } from '../../src/init/init-policy.ts';
import { readBounded } from '../../src/init/scan-install.ts';
import { expectGolden } from '../helpers/golden.ts';
import { runCli } from '../helpers/run-cli.ts';
import { buildInstall, SEED_BRIDGES, type Entry, type Install } from './build-install.ts';

const GOLDEN = join(import.meta.dirname, '../fixtures/nanoclaw-installs');
const test = suite('init');

// Runs init on a built install; the golden holds the policy, then "----- stderr", the warnings.
async function golden(name: string, entries: Record<string, Entry>, args: string[] = []): Promise<{ install: Install; policy: string; stderr: string }> {
  const install = buildInstall(entries);
  try {
    const r = await runCli(['init', '--home', install.home, ...args]);
    assert.is(r.code, 0, r.stderr);
    const scrub = (s: string) => s.split(install.home).join('/HOME');
    expectGolden(join(GOLDEN, `${name}.expected`), `${scrub(r.stdout)}----- stderr\n${scrub(r.stderr)}`);
    mustPassCheck(r.stdout, install.home);
    return { install, policy: r.stdout, stderr: r.stderr };
  } catch (error) {
    install.cleanup();
    throw error;
  }
}

function mustPassCheck(policy: string, home: string): void {
  const outcome = compilePolicy({ file: 'init.policy', source: policy, home, cwd: join(home, '.config/nanopolicy') });
  const errors = outcome.diagnostics.filter((d) => d.severity === 'error');
  assert.equal(errors, [], 'the policy init wrote must pass check');
  assert.ok(outcome.policy);
}

const SEED: Record<string, Entry> = {
  'groups/main/CLAUDE.md': '# main\n',
  'data/sessions/.keep': '',
  'memory/notes.md': '',
  'scripts/bridges.sh': SEED_BRIDGES,
  'logs/app.log': '',
  'node_modules/x/index.js': '',
  '.env': 'DISCORD_TOKEN=discord-secret-value\nexport ANTHROPIC_API_KEY="sk-ant-secret"\n# OLD_KEY=x\nHA_TOKEN = ha-secret\n',
  '~/.config/nanoclaw/mount-allowlist.json': JSON.stringify({
    allowedRoots: [
      { path: '~/projects', allowReadWrite: true, description: 'Development projects' },
      { path: '~/Documents/work', allowReadWrite: false, description: 'Work documents (read-only)' },
    ],
    blockedPatterns: ['password'],
    nonMainReadOnly: true,
  }),
  '~/projects': { dir: true },
  '~/Documents/work': { dir: true },
};

test('the seed install: three bridges off the VM address, four shares, allowlist, .env keys', async () => {
  const { install, policy, stderr } = await golden('seed', SEED);
  try {
    assert.match(policy, 'allow vaultwarden bitwarden.cstrube.de:443 via 18443 tls\n');
    assert.match(policy, 'allow homeassistant 10.0.30.5:8123 via 18123\n');
    assert.match(policy, 'mount scripts ~/nanoclaw/scripts ro\n');
    assert.not.match(policy, '2222', 'a commented-out socat line is no bridge');
    for (const secret of ['discord-secret-value', 'sk-ant-secret', 'ha-secret']) {
      assert.not.match(policy + stderr, secret, 'no .env value may appear anywhere');
    }
    assert.match(policy, 'ANTHROPIC_API_KEY DISCORD_TOKEN HA_TOKEN');
    assert.not.match(policy, 'OLD_KEY');
  } finally {
    install.cleanup();
  }
});

// Every known credential key, with values a test can search for everywhere init writes.
const CREDENTIALS: Record<string, string> = {
  ANTHROPIC_API_KEY: 'sk-ant-api03-VALUE-anthropic-0001',
  CLAUDE_CODE_OAUTH_TOKEN: 'sk-ant-oat01-VALUE-oauth-0002',
  DISCORD_TOKEN: 'MTA-VALUE-discord-0003',
  GITHUB_TOKEN: 'ghp_VALUE_github_0004',
  HA_TOKEN: 'VALUE-homeassistant-0005',
};

test('.env credentials: secret lines, injection on the one service each, keychain steps; no value anywhere (stdout, stderr, -o file, --json)', async () => {
  const env = Object.entries(CREDENTIALS).map(([k, v], i) => (i % 2 ? `export ${k}="${v}"` : `${k}=${v}`)).join('\n');
  const { install, policy, stderr } = await golden('credentials', { 'groups/main/CLAUDE.md': '', 'scripts/b.sh': SEED_BRIDGES, '.env': `${env}\n` });
  try {
    const statements = policy.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    for (const line of [
      'secret anthropic from keychain nanoclaw-anthropic env ANTHROPIC_API_KEY',
      'secret discord from keychain nanoclaw-discord env DISCORD_TOKEN',
      'secret github from keychain nanoclaw-github env GITHUB_TOKEN',
      'egress claude api.anthropic.com inject x-api-key: {anthropic}',
      'egress claude-signin claude.ai platform.claude.com',
      'egress discord discord.com inject authorization: Bot {discord}',
      'egress discord-gateway gateway.discord.gg *.discord.gg websocket-token {discord}',
      'egress discord-cdn cdn.discordapp.com',
      'egress github api.github.com inject authorization: Bearer {github}',
    ]) assert.ok(statements.includes(line), `missing ${line}\n${policy}`);
    assert.not.ok(statements.some((l) => l.includes('claude-oauth')), 'two Claude credentials: the API key is injected, the token only suggested');
    assert.match(policy, '#   security add-generic-password -s nanoclaw-anthropic -a "$USER" -w');
    assert.not.match(policy, /^secret .*HA_TOKEN/m, 'an unknown key is no secret line');
    const out = join(install.home, '.config/nanopolicy/nanoclaw.policy');
    const written = await runCli(['init', '--home', install.home, '-o', out]);
    const json = await runCli(['init', '--home', install.home, '--json']);
    assert.is(written.code, 0, written.stderr);
    const everything = [policy, stderr, written.stdout, written.stderr, readFileSync(out, 'utf8'), json.stdout, json.stderr].join('\n');
    for (const value of Object.values(CREDENTIALS)) {
      assert.not.ok(everything.includes(value), `a .env value reached init's output: ${value}`);
      assert.not.ok(everything.includes(value.slice(0, 12)), 'not even a prefix of it');
    }
    assert.not.ok(everything.includes('VALUE'), 'no part of any value');
  } finally {
    install.cleanup();
  }
});

test('a Claude subscription token alone is injected as Authorization: Bearer; DISCORD_BOT_TOKEN counts as the Discord token', async () => {
  const install = buildInstall({ 'groups/a': '', '.env': 'CLAUDE_CODE_OAUTH_TOKEN=x-value-1\nDISCORD_BOT_TOKEN=x-value-2\n' });
  try {
    const r = await runCli(['init', '--home', install.home]);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, '\nsecret claude-oauth from keychain nanoclaw-claude-oauth env CLAUDE_CODE_OAUTH_TOKEN\n');
    assert.match(r.stdout, '\negress claude api.anthropic.com inject authorization: Bearer {claude-oauth}\n');
    assert.match(r.stdout, '\nsecret discord from keychain nanoclaw-discord env DISCORD_BOT_TOKEN\n');
    assert.not.match(r.stdout, 'x-value');
    assert.not.match(r.stdout, 'Vaultwarden (one item per key)', 'every key went to the keychain: no Vaultwarden step');
    mustPassCheck(r.stdout, install.home);
  } finally {
    install.cleanup();
  }
});

test('a bridge named like an injecting rule takes the next name; the injecting rules keep theirs', async () => {
  const install = buildInstall({ 'groups/a': '', '.env': 'GITHUB_TOKEN=x\nDISCORD_TOKEN=y\n', 'scripts/b.sh': 'socat TCP-LISTEN:18500,fork TCP:github.example.test:443 &\nsocat TCP-LISTEN:18501,fork TCP:discord-cdn.example.test:443 &\n' });
  try {
    const r = await runCli(['init', '--home', install.home]);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, 'allow github-2 github.example.test:443');
    assert.match(r.stdout, 'allow discord-cdn-2 discord-cdn.example.test:443');
    assert.match(r.stdout, '\negress github api.github.com inject');
    mustPassCheck(r.stdout, install.home);
  } finally {
    install.cleanup();
  }
});

test('a bare install: no scripts, no .env, no allowlist', async () => {
  const { install } = await golden('bare', { 'groups/main/CLAUDE.md': '', 'data/x': '' }, ['--vm', 'assistant']);
  install.cleanup();
});

test('a hostile install: weird quoting, injected newlines and "#", links out, a huge file, an open quote', async () => {
  const entries: Record<string, Entry> = {
    groups: { link: '$HOME/.ssh' },
    '~/.ssh/id_ed25519': 'KEY',
    'data/inbox/.netrc': 'machine x',
    'data/escape': { link: '/etc' },
    memory: { dir: true },
    'scripts/quoting.sh': [
      `socat 'TCP-LISTEN:18001,fork' "TCP:svc"'.example.test'":443" &`,
      `socat TCP-LISTEN:18002,fork 'TCP:evil.test:443\nmount root / rw' &`,
      `socat TCP-LISTEN:18003,fork "TCP:evil.test:80 # allow all 0.0.0.0:1 via 18004" &`,
      `socat TCP-LISTEN:18005,bind=127.0.0.1 TCP:$UNSET_HOST:443 &`,
      `socat TCP-LISTEN:80,fork TCP:web.example.test:80 &`,
      `echo 'never closed`,
      `socat TCP-LISTEN:18006 TCP:after-open-quote.test:1 &`,
    ].join('\n'),
    'scripts/huge.sh': `${'#'.repeat(1_100_000)}\nsocat TCP-LISTEN:18007 TCP:hidden.test:443\n`,
    'scripts/linked.sh': { link: '/etc/hostname' },
    'notes #1\nallow x 1.2.3.4:5 via 18009': { dir: true },
  };
  const { install, policy } = await golden('hostile', entries);
  try {
    const statements = policy.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    assert.equal(statements, [
      'vm nanoclaw-vm',
      'snapshot keep 3',
      'allow svc svc.example.test:443 via 18001 tls',
      'allow web web.example.test:80 via 18000',
      'egress claude api.anthropic.com claude.ai platform.claude.com',
      'egress discord discord.com gateway.discord.gg *.discord.gg cdn.discordapp.com',
      'mount data ~/nanoclaw/data rw',
      'mount memory ~/nanoclaw/memory rw',
      'mount scripts ~/nanoclaw/scripts ro',
    ]);
    assert.not.match(policy, 'hidden.test', 'a file too large to read says nothing');
    assert.not.match(policy, 'after-open-quote', 'nothing after an open quote is read');
  } finally {
    install.cleanup();
  }
});

test('an install path with spaces, quotes, "#" and ":" is quoted exactly, or refused by check with its reason', async () => {
  const install = buildInstall({ '~/we ird "x" #1/groups/a': '', '~/we ird "x" #1/scripts/b.sh': '', '~/co:lon/groups/a': '' });
  try {
    const allowlistFile = join(install.home, 'none.json');
    const weird = initPolicy({ from: join(install.home, 'we ird "x" #1'), home: install.home, vm: 'nanoclaw-vm', allowlistFile });
    assert.match(weird.policy, '\nmount groups "~/we ird \\"x\\" #1/groups" rw\n');
    const outcome = compilePolicy({ file: 'p.policy', source: weird.policy, home: install.home, cwd: join(install.home, '.config') });
    assert.is(outcome.policy?.mounts[0]?.path, join(install.home, 'we ird "x" #1/groups'), 'the path read back is the path found');
    const colon = initPolicy({ from: join(install.home, 'co:lon'), home: install.home, vm: 'nanoclaw-vm', allowlistFile });
    assert.match(colon.policy, /^# mount groups "~\/co:lon\/groups" rw {3}<- refused by check, NP303/m);
    assert.ok(colon.warnings.some((w) => w.includes('is left as a comment')));
    mustPassCheck(colon.policy, install.home);
  } finally {
    install.cleanup();
  }
});

test('unreadable files are warnings, not crashes (and a mode-000 file when not root)', async () => {
  const install = buildInstall({ 'groups/a': '', 'scripts/bridges.sh': SEED_BRIDGES, 'scripts/locked.sh': 'socat TCP-LISTEN:18111 TCP:locked.test:1\n', '.env': 'A=1\n' });
  try {
    const r = initPolicy({
      from: install.root,
      home: install.home,
      vm: 'nanoclaw-vm',
      allowlistFile: join(install.home, '.config/nanoclaw/mount-allowlist.json'),
      read: (path, max) => {
        if (path.endsWith('locked.sh') || path.endsWith('.env')) throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
        return readBounded(path, max);
      },
    });
    assert.ok(r.warnings.some((w) => w.startsWith('scripts/locked.sh could not be read (EACCES)')), r.warnings.join('\n'));
    assert.ok(r.warnings.some((w) => w.startsWith('.env could not be read (EACCES)')));
    assert.match(r.policy, 'It could not be read (EACCES); list its keys by hand.');
    assert.match(r.policy, 'allow vaultwarden');
    mustPassCheck(r.policy, install.home);
    if (process.getuid?.() !== 0) {
      chmodSync(join(install.root, 'scripts/locked.sh'), 0);
      const real = await runCli(['init', '--home', install.home]);
      assert.match(real.stderr, 'scripts/locked.sh could not be read (EACCES)');
    }
  } finally {
    install.cleanup();
  }
});

test('a broken allowlist is a warning; a blocked pattern keeps a root out', async () => {
  const install = buildInstall({ 'groups/a': '', '~/.config/nanoclaw/mount-allowlist.json': '{"allowedRoots": [' });
  try {
    const r = await runCli(['init', '--home', install.home]);
    assert.is(r.code, 0);
    assert.match(r.stderr, 'mount-allowlist.json was not read: it is not JSON');
    writeFileSync(join(install.home, '.config/nanoclaw/mount-allowlist.json'), JSON.stringify({ allowedRoots: [{ path: '~/password-store', allowReadWrite: true }], blockedPatterns: ['password'], nonMainReadOnly: false }));
    const again = await runCli(['init', '--home', install.home]);
    assert.match(again.stdout, 'Left out: it matches the allowlist\'s own blocked pattern "password".');
    assert.not.match(again.stdout, /^mount password/m);
  } finally {
    install.cleanup();
  }
});

test('-o never overwrites without --force; the file written passes check', async () => {
  const install = buildInstall({ 'groups/a': '', 'scripts/b.sh': SEED_BRIDGES });
  try {
    const out = join(install.home, 'np.policy');
    const first = await runCli(['init', '--home', install.home, '-o', out]);
    assert.is(first.code, 0, first.stderr);
    assert.match(first.stderr, 'init: wrote');
    writeFileSync(out, 'mine\n');
    const second = await runCli(['init', '--home', install.home, '-o', out]);
    assert.is(second.code, 1);
    assert.match(second.stderr, 'exists; nothing was written.\n  hint: Add --force');
    assert.is(readFileSync(out, 'utf8'), 'mine\n');
    const forced = await runCli(['init', '--home', install.home, '-o', out, '--force']);
    assert.is(forced.code, 0);
    const check = await runCli(['check', out, '--home', install.home]);
    assert.is(check.code, 0, check.stderr);
  } finally {
    install.cleanup();
  }
});

test('-o into a fresh home: the missing ~/.config/nanopolicy is made (private), and the policy passes check', async () => {
  const install = buildInstall({ 'groups/a': '', 'scripts/b.sh': SEED_BRIDGES });
  try {
    const out = join(install.home, '.config/nanopolicy/nanoclaw.policy');
    assert.not.ok(existsSync(join(install.home, '.config')));
    const r = await runCli(['init', '--home', install.home, '-o', out]);
    assert.is(r.code, 0, r.stderr);
    assert.is(statSync(dirname(out)).mode & 0o777, 0o700);
    const check = await runCli(['check', out, '--home', install.home]);
    assert.is(check.code, 0, check.stderr);
  } finally {
    install.cleanup();
  }
});

test('egress: Claude Code and Discord, each line under its source, names never taken by a bridge', async () => {
  const install = buildInstall({ 'groups/a': '', 'scripts/b.sh': 'socat TCP-LISTEN:18500,fork TCP:claude.example.test:443 &\nsocat TCP-LISTEN:18501,fork TCP:discord.example.test:443 &\n' });
  try {
    const r = await runCli(['init', '--home', install.home]);
    assert.is(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    const claude = lines.indexOf('egress claude api.anthropic.com claude.ai platform.claude.com');
    const discord = lines.indexOf('egress discord discord.com gateway.discord.gg *.discord.gg cdn.discordapp.com');
    assert.ok(claude > 0 && discord > claude, r.stdout);
    assert.match(lines.slice(0, claude).join('\n'), 'code.claude.com/docs/en/network-config');
    assert.match(lines.slice(claude, discord).join('\n'), 'discord/discord-api-docs');
    assert.match(lines.slice(claude, discord).join('\n'), 'without HTTPS_PROXY', 'the gateway caveat is said, not hidden');
    assert.match(r.stdout, 'allow claude-2 claude.example.test:443');
    assert.match(r.stdout, 'allow discord-2 discord.example.test:443');
    mustPassCheck(r.stdout, install.home);
  } finally {
    install.cleanup();
  }
});

test('a secret-looking file in any share (the install\'s and the allowlist\'s) warns at the mount line, and check says the same', async () => {
  const install = buildInstall({
    'groups/main/CLAUDE.md': '',
    'groups/main/.env': 'K=v\n',
    'data/x': '',
    '~/projects/app/.aws/credentials': 'x',
    '~/projects/app/src/id_rsa.pub': 'x',
    '~/.config/nanoclaw/mount-allowlist.json': JSON.stringify({ allowedRoots: [{ path: '~/projects', allowReadWrite: false }], blockedPatterns: [], nonMainReadOnly: true }),
  });
  try {
    const out = join(install.home, '.config/nanopolicy/nanoclaw.policy');
    const r = await runCli(['init', '--home', install.home, '-o', out]);
    assert.is(r.code, 0, r.stderr);
    const policyLines = readFileSync(out, 'utf8').split('\n');
    const groupsLine = policyLines.findIndex((l) => l.startsWith('mount groups ')) + 1;
    const projectsLine = policyLines.findIndex((l) => l.startsWith('mount projects ')) + 1;
    assert.match(r.stderr, `warning: nanoclaw.policy:${groupsLine}: The share "groups" holds "main/.env"`);
    assert.match(r.stderr, `warning: nanoclaw.policy:${projectsLine}: The share "projects" holds "app/.aws/" and 1 more`);
    const check = await runCli(['check', out, '--home', install.home]);
    assert.is(check.code, 0, check.stderr);
    assert.match(check.stderr, 'warning[NP252]: The share "groups" holds "main/.env"');
    assert.match(check.stderr, `nanoclaw.policy:${groupsLine}:`);
    assert.match(check.stderr, `${install.home}/projects/app/src/id_rsa.pub`);
  } finally {
    install.cleanup();
  }
});

test('writing the policy into a read-write share is refused', async () => {
  const install = buildInstall({ 'groups/a': '', 'data/x': '' });
  try {
    const out = join(install.root, 'data', 'np.policy');
    const r = await runCli(['init', '--home', install.home, '-o', out]);
    assert.is(r.code, 1);
    assert.match(r.stderr, 'NP249');
    assert.not.ok(existsSync(out));
  } finally {
    install.cleanup();
  }
});

test('usage and missing installs: exit 64 and 1, no stack trace', async () => {
  assert.is((await runCli(['init', '--vm', 'Bad Name'])).code, 64);
  assert.is((await runCli(['init', '--force'])).code, 64);
  const r = await runCli(['init', '--from', '/nonexistent/nanoclaw', '--home', '/nonexistent']);
  assert.is(r.code, 1);
  assert.match(r.stderr, 'There is no NanoClaw install at "/nonexistent/nanoclaw".');
  assert.match((await runCli(['init', '--help'])).stdout, 'Examples:');
});

test('--json: the policy, warnings and what was found', async () => {
  const install = buildInstall({ 'groups/a': '', 'scripts/b.sh': SEED_BRIDGES, '.env': 'K=v\n' });
  try {
    const r = await runCli(['init', '--home', install.home, '--json']);
    const out = JSON.parse(r.stdout);
    assert.equal(out.found.envKeys, ['K']);
    assert.is(out.found.bridges, 3);
    assert.match(out.policy, 'vm nanoclaw-vm');
  } finally {
    install.cleanup();
  }
});

test.run();
