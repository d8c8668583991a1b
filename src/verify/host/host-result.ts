// A row of the host's own checks, in the probes' shape so one table shows both.

import type { ProbeResult } from '../inside/result.ts';

// A host check that held or did not.
export function hostRow(probe: string, expected: string, measured: string, ok: boolean, ms: number, detail?: string): ProbeResult {
  return { group: 'host', probe, expected, measured, ok, ms: Math.round(ms), ...(detail && !ok ? { detail } : {}) };
}
