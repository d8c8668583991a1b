// The built CLI (dist/, by scripts/build.js; npm test builds first): start-up loads only what every
// command needs, and the chunks that enforce/verify load lazily still find their neighbours.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { compilePolicyFile } from '../../src/compiler/compile.ts';
import { buildVerifyManifest } from '../../src/compiler/emit/verify-manifest.ts';

const ROOT = join(import.meta.dirname, '../..');
const DIST = join(ROOT, 'dist');
const t = suite('dist bundle');

// The static import graph of dist/cli.js: the files and packages start-up loads.
function startupGraph(): { files: string[]; specifiers: Set<string> } {
  const files: string[] = [];
  const specifiers = new Set<string>();
  const todo = ['cli.js'];
  while (todo.length) {
    const file = todo.pop()!;
    if (files.includes(file)) continue;
    files.push(file);
    const text = readFileSync(join(DIST, file), 'utf8');
    // Static imports only (`import … from "x"` / `import "x"`); `import("x")` is the lazy kind.
    for (const m of text.matchAll(/^import\s+(?:[^'"]*?\sfrom\s+)?["']([^"']+)["'];?$/gms)) {
      const spec = m[1]!;
      if (spec.startsWith('./')) todo.push(spec.slice(2));
      else specifiers.add(spec);
    }
  }
  return { files, specifiers };
}

t('dist/cli.js is built (run "npm run build" first)', () => {
  assert.ok(existsSync(join(DIST, 'cli.js')), 'dist/cli.js is missing: run "npm run build"');
});

t('start-up loads no execa, diff, tls, dns, dgram or child_process: only enforce/verify use them', () => {
  const { specifiers, files } = startupGraph();
  for (const heavy of ['execa', 'diff', 'node-forge', 'node:tls', 'node:dns', 'node:dgram', 'node:child_process']) {
    assert.not.ok(specifiers.has(heavy), `${heavy} is imported at start-up (by one of ${files.join(', ')})`);
  }
  assert.ok(files.length < readdirSync(DIST).filter((f) => f.endsWith('.js')).length, 'some chunks load only on demand');
});

t('every chunk that looks for the probe beside itself finds dist/probe.cjs there', () => {
  const seekers = readdirSync(DIST).filter((f) => f.endsWith('.js') && readFileSync(join(DIST, f), 'utf8').includes('"./probe.cjs"'));
  assert.ok(seekers.length > 0, 'run-inside.ts looks for ./probe.cjs');
  assert.ok(existsSync(join(DIST, 'probe.cjs')));
});

t('the built CLI checks the bundled policy, and loads the probe chunk on demand', async () => {
  const check = spawnSync(process.execPath, [join(ROOT, 'bin/nanopolicy.js'), 'check', 'policy/nanoclaw.policy'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  assert.is(check.status, 0, check.stderr);
  assert.match(check.stdout + check.stderr, /ok/);
  // verify --inside with every probe group skipped: loads the probe chunk, sends nothing.
  const dir = mkdtempSync(join(tmpdir(), 'np-dist-'));
  try {
    const { policy } = await compilePolicyFile(join(ROOT, 'policy/nanoclaw.policy'), { home: dir, cwd: ROOT });
    if (!policy) throw new Error('the bundled policy does not compile');
    const manifest = join(dir, 'verify.json');
    writeFileSync(manifest, JSON.stringify(buildVerifyManifest(policy)));
    const all = 'bridges,hosts,gateway,direct,proxy,egress,dns,icmp,mounts';
    const inside = spawnSync(process.execPath, [join(ROOT, 'bin/nanopolicy.js'), 'verify', '--inside', manifest, '--skip', all, '--json'], { cwd: ROOT, encoding: 'utf8' });
    assert.is(inside.status, 0, inside.stderr);
    assert.equal((JSON.parse(inside.stdout) as { results: unknown[] }).results, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
