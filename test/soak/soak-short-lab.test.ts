// The soak with faults (issue 24), short: ~22 s of honest clients streaming through every bridge
// and the proxy while every kind of fault is injected (run-soak.ts); one test per check, so a
// failure names what did not hold. `npm run soak` is the same for minutes.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { requireLab } from '../lab/index.ts';
import { runSoak, soakOptions, type SoakResult } from './run-soak.ts';
import type { Check } from './checks.ts';
import { formatSoak } from './soak-report.ts';

const available = requireLab('the short soak');
const t = suite('soak with faults (short, lab)');
let result: SoakResult;

t.before(async () => {
  result = await runSoak(soakOptions('short'));
  // The table, for whoever reads the test output: what ran and what it measured.
  if (process.env.NANOPOLICY_SOAK_TABLE) process.stdout.write(formatSoak(result));
});

const holds = (name: Check['name']) => () => {
  const c = result.checks.find((x) => x.name === name);
  assert.ok(c, `no "${name}" check`);
  assert.ok(c!.ok, `${c!.detail}${c!.evidence ? `\n  ${c!.evidence.join('\n  ')}` : ''}`);
};

t('the soak ran to its end, every kind of fault injected', holds('ran'));
t('every byte an honest client sent came back intact, or its connection failed visibly', holds('bytes'));
t('every connection the proxy allowed has its record in the audit log', holds('records'));
t('the cage never opened: no canary answered, every sweep found only the bridges and the proxy', holds('cage'));
t('memory and descriptors of the supervisor, the proxy and every socat stayed flat', holds('flat'));
t('recovery after each fault took under the supervise interval, and no fault hurt a path it should not', holds('recovery'));
t('SIGTERM to the supervisor tore everything down', holds('teardown'));
if (available) t.run();
