// The fast paths issue 9 put into the path checks must answer exactly what the plain code they
// replaced answers: property tests against that plain code, on random and hostile paths, and on a
// real tree of folders and symlinks for the realpath resolver.

import fs, { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { expandHome, foldedWithin } from '../../../src/compiler/paths/expand-home.ts';
import { foldPath } from '../../../src/compiler/paths/fold-path.ts';
import { realPathResolver } from '../../../src/compiler/paths/real-path.ts';
import { SENSITIVE_PATTERNS, sensitiveSegment } from '../../../src/compiler/paths/sensitive-patterns.ts';

const t = suite('path fast paths');
const SEED = Number(process.env.FUZZ_SEED ?? 20261127);
const runs = { seed: SEED, numRuns: 3000 };

// The plain code the fast paths replaced.
const plainFold = (p: string) => p.normalize('NFD').toLowerCase().normalize('NFD');
function plainSensitive(path: string): { segment: string; pattern: string } | undefined {
  for (const segment of path.split('/')) {
    const folded = plainFold(segment);
    for (const pattern of SENSITIVE_PATTERNS) {
      const p = plainFold(pattern);
      if (folded === p || (folded.startsWith(p) && /^[._-]/.test(folded.slice(p.length)))) return { segment, pattern };
    }
  }
  return undefined;
}
function plainExpand(written: string, home: string): ReturnType<typeof expandHome> {
  const normalize = (path: string) => {
    const out = posix.normalize(path);
    return out.length > 1 && out.endsWith('/') ? out.slice(0, -1) : out;
  };
  if (written === '~' || written.startsWith('~/')) return { ok: true, path: normalize(home + written.slice(1)) };
  if (written.startsWith('~')) return { ok: false, problem: 'other-user' };
  if (!written.startsWith('/')) return { ok: false, problem: 'relative' };
  return { ok: true, path: normalize(written) };
}

// Path-shaped strings: segments from the sensitive names, their look-alikes in other case and
// Unicode forms, dots, empty segments and plain words.
const segment = fc.oneof(
  fc.constantFrom(...SENSITIVE_PATTERNS),
  fc.constantFrom(...SENSITIVE_PATTERNS).map((p) => p.toUpperCase()),
  fc.constantFrom(...SENSITIVE_PATTERNS).chain((p) => fc.constantFrom('.', '-', '_', 'x', '.local', 'rc').map((s) => p + s)),
  fc.constantFrom('', '.', '..', '...', 'Caf\u00e9', 'Cafe\u0301', '\u212a', 'SSH', 'env', 'Library', 'Users', 'owner', 'nanoclaw'),
  fc.string({ maxLength: 6 }),
  fc.string({ unit: 'grapheme', maxLength: 4 }),
);
const path = fc.array(segment, { maxLength: 6 }).chain((parts) => fc.constantFrom('/', '~/', '', '~').map((lead) => lead + parts.join('/')));

t('foldPath equals the plain NFD-lowercase-NFD fold', () => {
  fc.assert(fc.property(fc.oneof(path, fc.string(), fc.string({ unit: 'binary' })), (p) => foldPath(p) === plainFold(p)), runs);
});

t('sensitiveSegment answers what the segment-by-segment loop answers', () => {
  fc.assert(fc.property(path, (p) => assert.equal(sensitiveSegment(p), plainSensitive(p))), runs);
});

t('foldedWithin (which builds no "outer/" string) answers what the prefix test on "outer/" answers', () => {
  const plainWithin = (inner: string, outer: string) => inner === outer || inner.startsWith(outer === '/' ? '/' : `${outer}/`);
  const near = fc.constantFrom('/', '/a', '/a/', '/a/b', '/ab', '/a/b/c', '/a//b', '', 'a', '/a-b', '/a.b/c');
  const any = fc.oneof(near, path);
  fc.assert(fc.property(any, any, (inner, outer) => foldedWithin(inner, outer) === plainWithin(inner, outer)), runs);
});

t('expandHome (which skips normalising plain paths) equals posix.normalize on every path', () => {
  const home = fc.constantFrom('/Users/owner', '/Users/owner/', '/home/o//x', '/', '/Users/Caf\u00e9');
  fc.assert(fc.property(path, home, (p, h) => assert.equal(expandHome(p, h), plainExpand(p, h))), runs);
});

t('the memoised realpath resolver equals resolving each path alone, on a tree with symlinks, loops and dangling links', () => {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'np-realpath-')));
  try {
    mkdirSync(join(root, 'a/b/c'), { recursive: true });
    mkdirSync(join(root, 'secret/.ssh'), { recursive: true });
    symlinkSync(join(root, 'secret/.ssh'), join(root, 'a/harmless'));
    symlinkSync(join(root, 'a/b'), join(root, 'link-b'));
    symlinkSync(join(root, 'nowhere'), join(root, 'a/dangling'));
    symlinkSync(join(root, 'loop2'), join(root, 'loop1'));
    symlinkSync(join(root, 'loop1'), join(root, 'loop2'));
    // A relative target, and a link to a link.
    symlinkSync('../secret', join(root, 'a/rel'));
    symlinkSync(join(root, 'link-b'), join(root, 'chain'));
    // What each path resolves to, one call each: realpath of the longest existing prefix, the rest appended.
    const alone = (p: string): string => {
      const rest: string[] = [];
      let current = posix.normalize(p);
      for (;;) {
        try {
          const real = realpathSync.native(current);
          return rest.length === 0 ? real : posix.join(real, ...rest.reverse());
        } catch {
          const parent = posix.dirname(current);
          if (parent === current) return p;
          rest.push(posix.basename(current));
          current = parent;
        }
      }
    };
    const names = fc.constantFrom('a', 'b', 'c', 'harmless', 'link-b', 'dangling', 'loop1', 'loop2', 'secret', '.ssh', 'missing', '.', '', 'x', 'rel', 'chain');
    const paths = fc.array(names, { minLength: 1, maxLength: 5 }).map((parts) => `${root}/${parts.join('/')}`);
    fc.assert(
      fc.property(fc.array(paths, { minLength: 1, maxLength: 8 }), (list) => {
        const resolve = realPathResolver();
        for (const p of list) assert.is(resolve(p), alone(p), p);
      }),
      { ...runs, numRuns: 400 },
    );
    // The case that matters: a harmless name that leads into ~/.ssh.
    assert.is(realPathResolver()(join(root, 'a/harmless/id_rsa')), join(root, 'secret/.ssh/id_rsa'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

t('below a missing folder nothing is looked up: 1,000 deep paths cost one lstat, not one per level', () => {
  const calls: string[] = [];
  // node:fs's own object, whose named exports syncBuiltinESMExports refreshes for the resolver.
  const writable = fs as { lstatSync: typeof fs.lstatSync };
  const original = fs.lstatSync;
  writable.lstatSync = ((path: string, options?: object) => {
    calls.push(path);
    return original(path, options as never);
  }) as typeof fs.lstatSync;
  syncBuiltinESMExports();
  try {
    const missing = join(realpathSync(tmpdir()), `np-missing-${process.pid}-${Date.now()}`);
    const resolve = realPathResolver();
    for (let i = 0; i < 1000; i++) {
      const path = `${missing}/a${i % 7}/b${i}/c/d`;
      assert.is(resolve(path), path);
    }
    // The folders above the missing one, and the missing one itself: once each.
    assert.ok(calls.length <= missing.split('/').length, `${calls.length} lstat calls`);
  } finally {
    writable.lstatSync = original;
    syncBuiltinESMExports();
  }
});

t.run();
