// The start that `guest check` and `guest install` share: a report for the VM, and the guest's
// facts from one probe — or the report with the one step that says the guest could not be reached.

import { probeCommand } from './guest-commands.ts';
import { runGuest, type GuestExec } from './guest-exec.ts';
import type { GuestPlan } from './guest-plan.ts';
import { parseProbe, unreachableStep, type GuestReport } from './guest-report.ts';

export type GuestFacts = NonNullable<ReturnType<typeof parseProbe>>;

// Probes the guest; `facts` is absent when it could not be reached (the report then says why).
export async function reachGuest(plan: GuestPlan, exec: GuestExec, viaTart: boolean): Promise<{ report: GuestReport; facts?: GuestFacts }> {
  const report: GuestReport = { vm: plan.vm, reachable: false, steps: [], notes: [...plan.notes] };
  const probe = await runGuest(exec, probeCommand());
  const facts = probe.exitCode === 0 ? parseProbe(probe.stdout) : undefined;
  if (facts === undefined) {
    report.steps.push(unreachableStep(probe.exitCode, probe.stderr || probe.stdout, viaTart));
    return { report };
  }
  report.reachable = true;
  return { report, facts };
}
