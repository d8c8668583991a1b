// `guest install`: puts the plan into the VM, idempotently: each file is read first, a marked block
// replaced in place (never appended twice), a whole file written only when it differs; the
// LaunchAgent is (re)loaded when it changed or is not loaded. Stops at the first failure; what was
// done before it stays done, and running install again finishes the rest.

import { readMarkedBlock, replaceMarkedBlock } from './marked-block.ts';
import { ABSENT, agentLoadedCommand, loadAgentCommand, probeCommand, readCommand, shownPath, writeCommand, type GuestCommand } from './guest-commands.ts';
import { runGuest, type GuestExec } from './guest-exec.ts';
import type { GuestFile, GuestPlan } from './guest-plan.ts';
import { reachGuest } from './reach-guest.ts';
import { nodeStep, type GuestReport, type GuestStep } from './guest-report.ts';

// Every command install may run, in order, for --dry-run (the writes as if every file differed).
export function installCommands(plan: GuestPlan): GuestCommand[] {
  const out: GuestCommand[] = [probeCommand()];
  for (const f of plan.files) out.push(readCommand(f), writeCommand(f, '<new text>'));
  const agent = plan.files.find((f) => f.id === 'launch-agent');
  if (agent && plan.launchAgentLabel) out.push(agentLoadedCommand(plan.launchAgentLabel), loadAgentCommand(plan.launchAgentLabel, agent));
  return out;
}

export async function guestInstall(plan: GuestPlan, exec: GuestExec, viaTart: boolean): Promise<GuestReport> {
  const { report, facts } = await reachGuest(plan, exec, viaTart);
  if (facts === undefined) return report;
  report.steps.push(nodeStep(facts.node));
  let agentChanged = false;
  for (const file of plan.files) {
    const step = await installFile(exec, file);
    report.steps.push(step);
    if (step.status === 'failed') return report;
    if (file.id === 'launch-agent' && step.status === 'changed') agentChanged = true;
  }
  const agent = plan.files.find((f) => f.id === 'launch-agent');
  if (agent && plan.launchAgentLabel) report.steps.push(await loadAgent(exec, plan.launchAgentLabel, agent, agentChanged));
  return report;
}

async function installFile(exec: GuestExec, file: GuestFile): Promise<GuestStep> {
  const shown = shownPath(file.path);
  const base = { id: file.id, what: file.what };
  const read = await runGuest(exec, readCommand(file));
  if (read.exitCode !== 0 && read.exitCode !== ABSENT) return { ...base, status: 'failed', detail: `${shown} could not be read: ${firstLine(read)}`, fix: `Look at ${shown} in the VM.` };
  const current = read.exitCode === ABSENT ? '' : read.stdout;
  let next: string;
  if ('block' in file.content) {
    const edit = replaceMarkedBlock(current, file.content.block, file.content.lines);
    if (!edit.ok) return { ...base, status: 'failed', detail: `${shown}: ${edit.problem}`, fix: `Fix the nanopolicy marker lines in ${shown} by hand (keep one block or none), then run guest install again.` };
    const before = readMarkedBlock(current, file.content.block);
    if (!edit.changed) return { ...base, status: 'unchanged', detail: `${shown}: the nanopolicy block is as the policy wants it` };
    next = edit.text;
    const written = await write(exec, file, next);
    if (written) return { ...base, ...written };
    const how = before.ok && before.count > 1 ? `replaced ${before.count} blocks by one` : before.ok && before.count === 1 ? 'replaced the nanopolicy block' : 'added the nanopolicy block';
    return { ...base, status: 'changed', detail: `${shown}: ${how} (${file.content.lines.length} line${file.content.lines.length === 1 ? '' : 's'})` };
  }
  next = file.content.whole;
  if (read.exitCode === 0 && current === next) return { ...base, status: 'unchanged', detail: `${shown} is as compiled` };
  const written = await write(exec, file, next);
  if (written) return { ...base, ...written };
  return { ...base, status: 'changed', detail: `${shown} ${read.exitCode === ABSENT ? 'written' : 'replaced'}` };
}

// Undefined when written; else the failed step's fields.
async function write(exec: GuestExec, file: GuestFile, text: string): Promise<Pick<GuestStep, 'status' | 'detail' | 'fix'> | undefined> {
  const r = await runGuest(exec, writeCommand(file, text));
  if (r.exitCode === 0) return undefined;
  const shown = shownPath(file.path);
  const fix = file.root ? `The guest user needs passwordless sudo to write ${shown} (cirruslabs images have it), or write the block by hand.` : `Check that the guest user may write ${shown}.`;
  return { status: 'failed', detail: `${shown} could not be written: ${firstLine(r)}`, fix };
}

async function loadAgent(exec: GuestExec, label: string, file: GuestFile, changed: boolean): Promise<GuestStep> {
  const base = { id: 'launch-agent-loaded', what: `the LaunchAgent ${label} is loaded` };
  if (!changed) {
    const loaded = await runGuest(exec, agentLoadedCommand(label));
    if (loaded.exitCode === 0) return { ...base, status: 'unchanged', detail: 'loaded' };
  }
  const r = await runGuest(exec, loadAgentCommand(label, file));
  if (r.exitCode === 0) return { ...base, status: 'changed', detail: 'loaded now; programs launchd starts from here on get the proxy environment' };
  if (r.exitCode === ABSENT) return { ...base, status: 'not-loaded', detail: 'the guest has no launchctl (not macOS): nothing loads the LaunchAgent', fix: 'Only a macOS guest runs LaunchAgents; set the variables of ~/.config/nanopolicy/proxy.env for its programs some other way.' };
  return { ...base, status: 'not-loaded', detail: `launchctl bootstrap failed: ${firstLine(r)}`, fix: "Log in to the VM's desktop once (the agent loads at every login), or run guest install again while logged in." };
}

function firstLine(r: { exitCode: number; stderr: string; stdout: string }): string {
  return (r.stderr.trim() || r.stdout.trim()).split('\n')[0] || `exit ${r.exitCode}`;
}
