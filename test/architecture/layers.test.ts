// The floor plan (docs/architecture.md) as a test: dependency-cruiser with .dependency-cruiser.cjs
// over src/ finds no upward arrow, no sideways arrow and no circle; and the rules do catch each
// kind when a tree breaks them on purpose, while the arrows the plan allows pass.

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
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

// A throwaway tree of files (path → text) under a fresh directory.
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'np-layers-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
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

layers('an upward, a sideways, a circular and a stray import are each reported by name', async () => {
  const dir = tree({
    'src/lower-case.ts': "import { Policy } from './compiler/policy.ts';\nexport const x: Policy = {};\n",
    'src/compiler/policy.ts': 'export interface Policy {}\n',
    // net (floor 1) reaching up to the compiler (floor 3), as a type only.
    'src/net/ipv4.ts': "import type { Policy } from '../compiler/policy.ts';\nexport type P = Policy;\n",
    // the grammar reaching up to its own compiler.
    'src/grammar/ast.ts': "import type { Policy } from '../compiler/policy.ts';\nexport type Q = Policy;\n",
    // enforce and verify are siblings on floor 4.
    'src/enforce/state.ts': "export const state = 1;\n",
    'src/verify/host/pf.ts': "import { state } from '../../enforce/state.ts';\nexport const pf = state;\n",
    // the CLI's old circle, through a type.
    'src/cli/commands.ts': "import { registerVerify } from './verify-command.ts';\nexport type SetExit = (code: number) => void;\nexport const all = [registerVerify];\n",
    'src/cli/verify-command.ts': "import type { SetExit } from './commands.ts';\nexport function registerVerify(s: SetExit): void { s(0); }\n",
    // the VM's bundle taking a host-side module.
    'src/verify/inside/main.ts': "import { pf } from '../host/pf.ts';\nexport const m = pf;\n",
    // a folder the plan does not know.
    'src/misc/thing.ts': "import { state } from '../enforce/state.ts';\nexport const t = state;\n",
  });
  try {
    const { violations } = check(dir);
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
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

layers('the arrows the plan allows pass: down a floor, and the named ones within a floor', async () => {
  const dir = tree({
    'src/lazy-builtins.ts': 'export const lazy = 1;\n',
    'src/diagnostics/diagnostic.ts': "import { lazy } from '../lazy-builtins.ts';\nexport const d = lazy;\n",
    'src/formats/verify-manifest.ts': "export type Manifest = { format: 1 };\n",
    'src/host/other-cages.ts': "import type { Manifest } from '../formats/verify-manifest.ts';\nexport type H = Manifest;\n",
    'src/snapshots/list.ts': "import type { H } from '../host/other-cages.ts';\nexport type S = H;\n",
    'src/grammar/ast.ts': "import { d } from '../diagnostics/diagnostic.ts';\nexport const a = d;\n",
    'src/compiler/compile.ts': "import { a } from '../grammar/ast.ts';\nimport type { S } from '../snapshots/list.ts';\nexport const c = a;\nexport type C = S;\n",
    'src/inject/secret.ts': 'export const i = 1;\n',
    'src/proxy/server.ts': "import { i } from '../inject/secret.ts';\nimport { c } from '../compiler/compile.ts';\nexport const p = i + c;\n",
    'src/enforce/apply.ts': "import { c } from '../compiler/compile.ts';\nexport const e = c;\n",
    'src/verify/inside/main.ts': "import type { Manifest } from '../../formats/verify-manifest.ts';\nexport type V = Manifest;\n",
    'src/doctor/doctor.ts': "import { e } from '../enforce/apply.ts';\nexport const dr = e;\n",
    'src/cli/main.ts': "import { dr } from '../doctor/doctor.ts';\nimport { p } from '../proxy/server.ts';\nexport const m = dr + p;\n",
  });
  try {
    const { violations, text } = check(dir);
    assert.is(violations.length, 0, `\n${text}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

layers.run();
