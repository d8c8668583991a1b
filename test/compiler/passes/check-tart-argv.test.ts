// NP305: the shares must fit tart's command line (macOS ARG_MAX, half of it for tart's arguments).
// The bound is checked against the argv the emitter really writes, so the estimate cannot drift
// below it.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { compilePolicy } from '../../../src/compiler/compile.ts';
import { tartRunArgv } from '../../../src/compiler/emit/tart-run.ts';
import { TART_ARGV_BUDGET } from '../../../src/compiler/passes/check-tart-argv.ts';

const t = suite('compiler: shares fit tart run (NP305)');
const HOME = '/Users/owner';

// A policy with `count` shares whose paths are `segment` bytes deep each (a long but real layout).
function policyWith(count: number, segment = 200): string {
  const deep = 'd'.repeat(segment);
  const lines = ['vm big-vm'];
  for (let i = 0; i < count; i++) lines.push(`mount m${i} ~/shares/${deep}/${i} ${i % 2 ? 'ro' : 'rw'}`);
  return `${lines.join('\n')}\n`;
}

const compile = (source: string) => compilePolicy({ file: 'big.policy', source, home: HOME, cwd: '/' });

// What macOS counts for `tart <argv>`: each string with its NUL, and its 8-byte pointer.
const argvBytes = (argv: readonly string[]) => ['tart', ...argv].reduce((n, a) => n + Buffer.byteLength(a) + 1 + 8, 0);

t('too many shares: one located error at the first mount that does not fit, naming the bound', () => {
  const out = compile(policyWith(3000));
  const errors = out.diagnostics.filter((d) => d.code === 'NP305');
  assert.is(errors.length, 1, JSON.stringify(out.diagnostics.slice(0, 3)));
  const [e] = errors;
  assert.match(e!.message, new RegExp(`^The mount "m(\\d+)" is one too many: .* more than the ${TART_ARGV_BUDGET} nanopolicy allows`));
  const index = Number(/"m(\d+)"/.exec(e!.message)![1]);
  assert.is(e!.line, index + 2, 'located on that mount line');
  assert.match(e!.hint!, new RegExp(`the first ${index} of the 3000 fit`));
  assert.is(out.policy, undefined);
});

t('as many shares as the check lets through really fit: the emitted tart argv stays within the bound', () => {
  const first = compile(policyWith(3000)).diagnostics.find((d) => d.code === 'NP305')!;
  const fit = Number(/"m(\d+)"/.exec(first.message)![1]);
  const out = compile(policyWith(fit));
  assert.equal(out.diagnostics.filter((d) => d.severity === 'error'), []);
  const bytes = argvBytes(tartRunArgv(out.policy!));
  assert.ok(bytes <= TART_ARGV_BUDGET, `${bytes} bytes for ${fit} shares`);
  assert.ok(bytes > TART_ARGV_BUDGET - 2 * 300, `the bound is used, not wasted: ${bytes}`);
});

t('multi-byte paths are counted in bytes, as the kernel counts them', () => {
  // 3 bytes per "€": as many characters as above, three times the bytes.
  const out = compile(policyWith(1200, 200).replaceAll('d'.repeat(200), '€'.repeat(200)));
  assert.ok(out.diagnostics.some((d) => d.code === 'NP305'));
});

t.run();
