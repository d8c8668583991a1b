// The floor plan (docs/architecture.md) as a test: dependency-cruiser with .dependency-cruiser.cjs
// over src/ finds no upward arrow, no sideways arrow and no circle; and the rules do catch each
// kind when a tree breaks them on purpose, while the arrows the plan allows pass.

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import type { ICruiseResult, IForbiddenRuleType, IViolation } from 'dependency-cruiser';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const root = join(import.meta.dirname, '../..');
const CONFIG = join(root, '.dependency-cruiser.cjs');
const DEPCRUISE = join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const config = createRequire(import.meta.url)(CONFIG) as { forbidden: IForbiddenRuleType[] };

// Runs depcruise over `src` under baseDir with the project's rules; the violations and a report
// of them. A child process without tsx: under the test's loader swc's visitor class fails to load.
function check(baseDir: string): { violations: IViolation[]; text: string } {
  const r = spawnSync(process.execPath, [DEPCRUISE, 'src', '--config', CONFIG, '--output-type', 'json'], { cwd: baseDir, encoding: 'utf8', timeout: 30_000 });
  let result: ICruiseResult;
  try {
    result = JSON.parse(r.stdout) as ICruiseResult;
  } catch {
    throw new Error(`depcruise printed no result (exit ${r.status ?? r.signal}): ${r.stderr}`);
  }
  const violations = result.summary.violations;
  const text = violations.map((v) => `${v.rule.name}: ${v.cycle ? v.cycle.map((c) => c.name).join(' → ') : `${v.from} → ${v.to}`}`).join('\n');
  return { violations, text };
}

// Cruises a throwaway tree: each file under src/ imports the files listed for it ("type " before
// one makes it a type-only import); files only imported are created empty.
function checkTree(files: Record<string, string[]>): { violations: IViolation[]; text: string } {
  const dir = mkdtempSync(join(tmpdir(), 'np-layers-'));
  try {
    const all = new Set([...Object.keys(files), ...Object.values(files).flat().map((t) => t.replace(/^type /, ''))]);
    for (const file of all) {
      const lines = (files[file] ?? []).map((t, i) => {
        const target = t.replace(/^type /, '');
        const spec = relative(dirname(file), target);
        return `import ${t.startsWith('type ') ? 'type ' : ''}* as m${i} from '${spec.startsWith('.') ? spec : `./${spec}`}';`;
      });
      mkdirSync(dirname(join(dir, 'src', file)), { recursive: true });
      writeFileSync(join(dir, 'src', file), [...lines, 'export const here = 1;', ''].join('\n'));
    }
    return check(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const rooms = config.forbidden.map((r) => /^floor-\d+-(.+)$/.exec(r.name ?? '')?.[1]).filter((r): r is string => r !== undefined);

const layers = suite('the floor plan');

layers('src/ has no arrow up a floor, none across one, and no circle', async () => {
  const { violations, text } = check(root);
  assert.is(violations.length, 0, `\n${text}`);
});

layers('every folder of src/ is a room of the plan', () => {
  const folders = readdirSync(join(root, 'src'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  for (const f of folders) assert.ok(rooms.includes(f), `src/${f}/ is in no floor of .dependency-cruiser.cjs (and docs/architecture.md)`);
});

layers('an upward, a sideways, a circular and a stray import are each reported by name', () => {
  const { violations } = checkTree({
    'lower-case.ts': ['compiler/policy.ts'],
    // net (floor 1) reaching up to the compiler (floor 3), as a type only.
    'net/ipv4.ts': ['type compiler/policy.ts'],
    // the grammar reaching up to its own compiler.
    'grammar/ast.ts': ['type compiler/policy.ts'],
    // enforce and verify are siblings on floor 4.
    'verify/host/pf.ts': ['enforce/state.ts'],
    // the CLI's old circle, through a type.
    'cli/commands.ts': ['cli/verify-command.ts'],
    'cli/verify-command.ts': ['type cli/commands.ts'],
    // the VM's bundle taking a host-side module.
    'verify/inside/main.ts': ['verify/host/pf.ts'],
    // a folder the plan does not know.
    'misc/thing.ts': ['enforce/state.ts'],
  });
  const seen = violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`);
  const expect = [
    'top-level-imports-no-room: src/lower-case.ts → src/compiler/policy.ts',
    'floor-1-net: src/net/ipv4.ts → src/compiler/policy.ts',
    'floor-3-grammar: src/grammar/ast.ts → src/compiler/policy.ts',
    'floor-4-verify: src/verify/host/pf.ts → src/enforce/state.ts',
    'verify-inside-stays-small: src/verify/inside/main.ts → src/verify/host/pf.ts',
    'no-unknown-room: src/misc/thing.ts → src/enforce/state.ts',
  ];
  for (const e of expect) assert.ok(seen.includes(e), `not reported: ${e}\nreported:\n${seen.join('\n')}`);
  assert.ok(violations.some((v) => v.rule.name === 'no-circular' && v.from === 'src/cli/commands.ts'), `the circle is not reported:\n${seen.join('\n')}`);
});

layers('the arrows the plan allows pass: down a floor, and the named ones within a floor', () => {
  const { violations, text } = checkTree({
    'diagnostics/diagnostic.ts': ['lazy-builtins.ts'],
    'host/other-cages.ts': ['type formats/verify-manifest.ts'],
    'snapshots/list.ts': ['host/other-cages.ts', 'formats/enforce-state.ts'],
    'grammar/ast.ts': ['diagnostics/diagnostic.ts'],
    'compiler/compile.ts': ['grammar/ast.ts', 'type snapshots/list.ts', 'net/ipv4.ts'],
    'proxy/server.ts': ['inject/secret.ts', 'compiler/compile.ts'],
    'enforce/apply.ts': ['compiler/compile.ts'],
    'verify/inside/main.ts': ['type formats/verify-manifest.ts'],
    'doctor/doctor.ts': ['enforce/apply.ts', 'verify/inside/main.ts'],
    'guest/setup.ts': ['enforce/apply.ts'],
    'cli/main.ts': ['doctor/doctor.ts', 'proxy/server.ts', 'guest/setup.ts'],
  });
  assert.is(violations.length, 0, `\n${text}`);
});

layers.run();
