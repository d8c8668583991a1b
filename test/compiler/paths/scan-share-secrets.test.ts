// The share scan: what a careless owner leaves in a shared folder (.env, keys, a credentials folder)
// is named at the mount's line; links are not followed; every bound that cuts the search short says
// so, since a search that did not finish must never read as a clean share.

import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { compilePolicy } from '../../../src/compiler/compile.ts';
import { scanShareSecrets, type ShareToScan } from '../../../src/compiler/paths/scan-share-secrets.ts';

const t = suite('share scan');

function tree(files: Record<string, string | { link: string }>): { root: string; cleanup(): void } {
  const root = mkdtempSync(join(tmpdir(), 'np-scan-'));
  for (const [rel, content] of Object.entries(files)) {
    const path = join(root, rel);
    mkdirSync(dirname(path), { recursive: true });
    if (typeof content === 'string') writeFileSync(path, content);
    else symlinkSync(content.link.replace('$ROOT', root), path);
  }
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

const share = (name: string, path: string, mode: 'ro' | 'rw' = 'rw'): ShareToScan => ({ name, path, mode, span: { line: 3, column: 13, endColumn: 20 } });
const LIMITS = { maxDepth: 6, maxEntries: 10_000, budgetMs: 60_000, maxShares: 10_000 };

t('a .env, a key and a credentials folder are named, at the line, with what the VM may do', () => {
  const { root, cleanup } = tree({ 'groups/main/.env.local': 'K=v', 'groups/main/CLAUDE.md': '', 'groups/x/id_ed25519': 'k', 'groups/.aws/credentials': 'c', 'scripts/run.sh': '' });
  try {
    const d = scanShareSecrets('p.policy', [share('groups', join(root, 'groups')), share('scripts', join(root, 'scripts'), 'ro')], LIMITS);
    assert.is(d.length, 1);
    assert.is(d[0]!.code, 'NP252');
    assert.is(d[0]!.severity, 'warning');
    assert.is(d[0]!.line, 3);
    assert.is(d[0]!.message, 'The share "groups" holds ".aws/" and 2 more, which looks secret (pattern ".aws"): the VM can read and change it.');
    assert.equal(d[0]!.notes, [`${root}/groups/.aws/`, `${root}/groups/main/.env.local`, `${root}/groups/x/id_ed25519`]);
  } finally {
    cleanup();
  }
});

t('read-only shares say "read"; clean and missing shares say nothing', () => {
  const { root, cleanup } = tree({ 'ro/.netrc': '', 'clean/a/b/c.txt': '' });
  try {
    const d = scanShareSecrets('p.policy', [share('ro', join(root, 'ro'), 'ro'), share('clean', join(root, 'clean')), share('gone', join(root, 'gone'))], LIMITS);
    assert.is(d.length, 1);
    assert.match(d[0]!.message, 'the VM can read it.');
  } finally {
    cleanup();
  }
});

t('a link is not followed (the VM sees the link, not the host target), but a link named like a secret is named', () => {
  const { root, cleanup } = tree({ 'secrets/.ssh/id_rsa': 'k', 'share/harmless': { link: '$ROOT/secrets' }, 'share/.npmrc': { link: '/nonexistent' } });
  try {
    const d = scanShareSecrets('p.policy', [share('share', join(root, 'share'))], LIMITS);
    assert.is(d.length, 1);
    assert.match(d[0]!.message, 'holds ".npmrc", which');
  } finally {
    cleanup();
  }
});

t('a secret below the depth bound is not claimed absent: the cut is a warning of its own', () => {
  const { root, cleanup } = tree({ 's/1/2/3/.env': '', 't/1/2/x': '' });
  try {
    const d = scanShareSecrets('p.policy', [share('s', join(root, 's')), share('t', join(root, 't'))], { ...LIMITS, maxDepth: 3 });
    assert.equal(d.map((x) => x.message), ['The share "s" was not searched whole for secret-looking files: the search stopped 3 levels down, at "1/2/3".']);
    assert.is(d[0]!.code, 'NP253');
  } finally {
    cleanup();
  }
});

t('the entry and time bounds end the search of that share and of every share after it', () => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 130; i++) files[`big/f${String(i).padStart(3, '0')}`] = '';
  files['big/zz.env'] = '';
  files['later/.env'] = '';
  const { root, cleanup } = tree(files);
  try {
    const shares = [share('big', join(root, 'big')), share('later', join(root, 'later'))];
    const byEntries = scanShareSecrets('p.policy', shares, { ...LIMITS, maxEntries: 20 });
    assert.equal(byEntries.map((x) => `${x.code} ${x.message}`), [
      'NP253 The share "big" was not searched whole for secret-looking files: the search stopped after 20 entries.',
      'NP253 The share "later" was not searched for secret-looking files: the search stopped after 20 entries.',
    ]);
    // Thousands of shares the search never reached are one warning, not thousands.
    const many = Array.from({ length: 5000 }, (_, i) => share(`s${i}`, join(root, `none-${i}`)));
    const cut = scanShareSecrets('p.policy', [shares[0]!, ...many], { ...LIMITS, maxEntries: 20 });
    assert.equal(cut.map((x) => x.message), [
      'The share "big" was not searched whole for secret-looking files: the search stopped after 20 entries.',
      'The 5000 shares from "s0" on were not searched for secret-looking files: the search stopped after 20 entries.',
    ]);
    const capped = scanShareSecrets('p.policy', many, { ...LIMITS, maxShares: 500 });
    assert.equal(capped.map((x) => `${x.message} ${x.line}`), ['The 4500 shares from "s500" on were not searched for secret-looking files: the search stopped after 500 shares. 3']);
    let clock = 0;
    const byTime = scanShareSecrets('p.policy', shares, { ...LIMITS, budgetMs: 100, now: () => (clock += 50) });
    assert.ok(byTime.every((x) => x.code === 'NP253' && x.message.endsWith('the search stopped after 100 ms.')), JSON.stringify(byTime));
    assert.is(byTime.length, 2);
  } finally {
    cleanup();
  }
});

t('compile: the scan runs only when asked, skips allow-sensitive lines, and never turns a policy into an error', () => {
  const { root, cleanup } = tree({ 'home/nc/groups/.env': 'K=v', 'home/nc/keys/.gnupg/x': '' });
  try {
    const home = join(root, 'home');
    const source = 'vm v\nmount groups ~/nc/groups rw\nmount keys ~/nc/keys ro allow-sensitive\n';
    const plain = compilePolicy({ file: 'p.policy', source, home, cwd: root });
    assert.equal(plain.diagnostics.map((d) => d.code), ['NP251']);
    const scanned = compilePolicy({ file: 'p.policy', source, home, cwd: root, scanShares: true });
    assert.equal(scanned.diagnostics.map((d) => `${d.code}:${d.line}:${d.column}`), ['NP252:2:14', 'NP251:3:25']);
    assert.ok(scanned.policy);
  } finally {
    cleanup();
  }
});

t.run();
