// `nanopolicy doctor`: is this Mac ready for the policy, and does the cage hold as set up? Read-only:
// enforce's own preflight checks (the ones that would stop it), then what enforce cannot see from
// a plan — the installed sudoers and boot job, pf enabled, the VM, the guest's side, the cage in
// force and the last verify. Every row has a status and, unless it is ok, the fix.

import type { Artifact } from '../compiler/artifact.ts';
import { launchdLabel } from '../compiler/emit/launchd-plist.ts';
import type { Session } from '../enforce/session.ts';
import { pfctlFor } from '../enforce/plan-pf.ts';
import { guestCheck } from '../guest/guest-check.ts';
import type { GuestExec } from '../guest/guest-exec.ts';
import { guestPlan } from '../guest/guest-plan.ts';
import { FINE } from '../guest/guest-report.ts';
import { listVms } from '../host/tart-vms.ts';
import type { CageStatus } from '../enforce/cage-status.ts';
import { launchdRow } from './launchd-check.ts';
import { preflightRows, type DoctorRow } from './doctor-row.ts';
import { pfEnabledRow } from './pf-enabled-check.ts';
import { sudoersRow } from './sudoers-check.ts';
import { secretRows } from './secrets-check.ts';

export interface DoctorInput {
  session: Session;
  /** The cage as `status` sees it (state, rules, last verify). */
  status: CageStatus;
  env: NodeJS.ProcessEnv;
  /** The artifacts as compile writes them for this owner (sudoers, launchd.plist). */
  artifacts: readonly Artifact[];
  /** How to reach the guest; with viaTart, only a VM tart lists as running is asked. */
  guest: { exec: GuestExec; viaTart: boolean };
  /** Tests: how host files are read. */
  readFile?: (path: string) => string;
  /** The uid secrets are read as (default: this process's, the owner running doctor). */
  ownerUid?: number;
}

/** Preflight checks that hold only before enforce starts the VM: skipped while the cage is in force. */
const BEFORE_START = new Set(['vm', 'ports']);

export async function runDoctor(input: DoctorInput): Promise<DoctorRow[]> {
  const { session, status } = input;
  const { policy, plan, runner } = session;
  const pfBackend = plan.backend === 'pf';
  const rows: DoctorRow[] = [];
  const ctx = { runner, env: input.env };
  for (const check of plan.preflight) {
    if (status.inForce && BEFORE_START.has(check.id)) continue;
    rows.push(...(await preflightRows(check, ctx)));
  }
  if (pfBackend) {
    const sudoers = input.artifacts.find((a) => a.name === 'sudoers');
    rows.push(sudoers ? await sudoersRow(policy.vm, sudoers.content, runner, input.readFile) : { id: 'sudoers', what: 'sudoers', status: 'unknown', detail: 'compile wrote no sudoers', fix: 'Report this as a bug.' });
    rows.push(await pfEnabledRow(pfctlFor(session.artifacts.pfctl).info(), runner, status.inForce));
    const label = launchdLabel(policy);
    rows.push(await launchdRow({ label, plistPath: `/Library/LaunchDaemons/${label}.plist` }, runner, input.readFile));
  } else {
    for (const id of ['sudoers', 'pf-enabled', 'launchd']) rows.push({ id, what: id, status: 'skipped', detail: `a pf (macOS) check; this is the ${plan.backend} backend` });
  }
  rows.push(...(await secretRows(policy, input.env, input.ownerUid ?? process.getuid?.() ?? -1)));
  const vm = await vmRow(session, input.guest.viaTart);
  rows.push(vm.row);
  rows.push(cageRow(status));
  rows.push(await guestRow(input, vm.running));
  rows.push(lastVerifyRow(status));
  return rows;
}

// The VM exists, and in which state (tart list); behind --exec, tart is not asked.
async function vmRow(session: Session, viaTart: boolean): Promise<{ row: DoctorRow; running: boolean }> {
  const what = `the VM "${session.policy.vm}" exists`;
  if (!viaTart) return { row: { id: 'vm-state', what, status: 'skipped', detail: 'the guest is reached through --exec, not tart' }, running: true };
  const vms = await listVms(session.runner);
  if (typeof vms === 'string') return { row: { id: 'vm-state', what, status: 'unknown', detail: vms, fix: 'brew install cirruslabs/cli/tart, or run "tart list" to see why it fails.' }, running: false };
  const vm = vms.find((v) => v.name === session.policy.vm);
  if (vm === undefined) return { row: { id: 'vm-state', what, status: 'fail', detail: 'tart has no such VM', fix: `tart clone ghcr.io/cirruslabs/macos-sequoia-base:latest ${session.policy.vm} (or fix the vm line)` }, running: false };
  return { row: { id: 'vm-state', what, status: 'ok', detail: vm.running ? 'running' : 'stopped' }, running: vm.running };
}

function cageRow(s: CageStatus): DoctorRow {
  const what = 'the cage is in force (rules loaded as compiled, bridges alive)';
  if (s.inForce) return { id: 'in-force', what, status: 'ok', detail: `${s.rules?.name ?? 'rules'} loaded, ${s.bridges.length} bridge${s.bridges.length === 1 ? '' : 's'} running` };
  return { id: 'in-force', what, status: s.backend === undefined ? 'warn' : 'fail', detail: s.problems[0] ?? 'not in force', fix: 'nanopolicy enforce' };
}

async function guestRow(input: DoctorInput, running: boolean): Promise<DoctorRow> {
  const what = "the guest's side (nanopolicy guest check)";
  if (!running) return { id: 'guest', what, status: 'warn', detail: 'not checked: the VM is not running', fix: 'Start it with nanopolicy enforce, then run doctor again.' };
  const plan = guestPlan(input.session.policy, input.artifacts);
  const report = await guestCheck(plan, input.guest.exec, input.guest.viaTart);
  const bad = report.steps.filter((s) => !FINE.has(s.status));
  if (bad.length === 0) return { id: 'guest', what, status: 'ok', detail: `${report.steps.length} checks ok` };
  const first = bad[0]!;
  return { id: 'guest', what, status: report.reachable ? 'fail' : 'unknown', detail: `${first.what}: ${first.detail}${bad.length > 1 ? ` (and ${bad.length - 1} more)` : ''}`, fix: first.fix ?? 'nanopolicy guest install' };
}

function lastVerifyRow(s: CageStatus): DoctorRow {
  const what = 'the last verify';
  if (s.lastVerify === undefined) return { id: 'last-verify', what, status: 'warn', detail: 'none recorded', fix: 'nanopolicy verify' };
  if (!s.lastVerify.ok) return { id: 'last-verify', what, status: 'fail', detail: `${s.lastVerify.wrong} wrong, at ${s.lastVerify.at}`, fix: 'nanopolicy verify, and fix what it names' };
  return { id: 'last-verify', what, status: 'ok', detail: `0 wrong, at ${s.lastVerify.at}` };
}
