// One line of `nanopolicy doctor`: a check, its status and, unless it is ok, the fix. "unknown" is
// a check that could not run: never counted as ok.

import type { PreflightCheck, PreflightContext } from '../enforce/preflight.ts';

export type DoctorStatus = 'ok' | 'warn' | 'fail' | 'unknown' | 'skipped';

export interface DoctorRow {
  id: string;
  what: string;
  status: DoctorStatus;
  detail: string;
  fix?: string;
}

/** Statuses that make doctor exit 2 (a check failed, or could not tell). */
export const BAD: ReadonlySet<DoctorStatus> = new Set(['fail', 'unknown']);

// An enforce preflight check as doctor rows: ok when it finds nothing, else a row per problem;
// a check that throws is "unknown", with what it said.
export async function preflightRows(check: PreflightCheck, ctx: PreflightContext): Promise<DoctorRow[]> {
  const what = check.describe.replace(/^Check /, '');
  try {
    const problems = await check.check(ctx);
    if (problems.length === 0) return [{ id: check.id, what, status: 'ok', detail: 'as enforce needs it' }];
    return problems.map((p) => ({ id: check.id, what, status: 'fail', detail: p.message, fix: p.fix }));
  } catch (error) {
    return [{ id: check.id, what, status: 'unknown', detail: `the check could not run: ${(error as Error)?.message ?? String(error)}`, fix: 'Fix the cause above and run doctor again.' }];
  }
}
