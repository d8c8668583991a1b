// `guest check`: read-only. Reaches the guest (the guest agent), asks for Node, and compares each
// file of the plan with what the guest holds: the marked blocks line for line (one block, not
// two), the whole files byte for byte, and whether the LaunchAgent is loaded.

import { readMarkedBlock } from './marked-block.ts';
import { ABSENT, agentLoadedCommand, readCommand, shownPath } from './guest-commands.ts';
import { runGuest, type GuestExec } from './guest-exec.ts';
import type { GuestFile, GuestPlan } from './guest-plan.ts';
import { reachGuest } from './reach-guest.ts';
import { nodeStep, type GuestReport, type GuestStep } from './guest-report.ts';

const INSTALL = 'Run "nanopolicy guest install".';

export async function guestCheck(plan: GuestPlan, exec: GuestExec, viaTart: boolean): Promise<GuestReport> {
  const { report, facts } = await reachGuest(plan, exec, viaTart);
  if (facts === undefined) return report;
  report.steps.push({ id: 'guest-agent', what: viaTart ? 'tart exec reaches the guest (the guest agent)' : 'the --exec prefix reaches the guest', status: 'ok', detail: `${facts.system}, user id ${facts.uid}` });
  report.steps.push(nodeStep(facts.node));
  for (const file of plan.files) report.steps.push(await checkFile(exec, file));
  if (plan.launchAgentLabel) {
    const r = await runGuest(exec, agentLoadedCommand(plan.launchAgentLabel));
    const what = `the LaunchAgent ${plan.launchAgentLabel} is loaded`;
    report.steps.push(
      r.exitCode === 0
        ? { id: 'launch-agent-loaded', what, status: 'ok', detail: 'loaded' }
        : r.exitCode === ABSENT
          ? { id: 'launch-agent-loaded', what, status: 'not-loaded', detail: 'the guest has no launchctl (not macOS)', fix: 'Only a macOS guest runs LaunchAgents.' }
          : { id: 'launch-agent-loaded', what, status: 'not-loaded', detail: 'not loaded in the logged-in user\'s launchd domain', fix: `${INSTALL} while logged in to the VM's desktop, or log in once.` },
    );
  }
  return report;
}

async function checkFile(exec: GuestExec, file: GuestFile): Promise<GuestStep> {
  const shown = shownPath(file.path);
  const base = { id: file.id, what: file.what };
  const read = await runGuest(exec, readCommand(file));
  if (read.exitCode === ABSENT) return { ...base, status: 'missing', detail: `${shown} does not exist`, fix: INSTALL };
  if (read.exitCode !== 0) return { ...base, status: 'failed', detail: `${shown} could not be read: ${(read.stderr.trim() || `exit ${read.exitCode}`).split('\n')[0]}`, fix: `Look at ${shown} in the VM.` };
  if ('whole' in file.content) {
    return read.stdout === file.content.whole ? { ...base, status: 'ok', detail: `${shown} is as compiled` } : { ...base, status: 'differs', detail: `${shown} is not what this policy compiles to`, fix: INSTALL };
  }
  const block = readMarkedBlock(read.stdout, file.content.block);
  if (!block.ok) return { ...base, status: 'failed', detail: `${shown}: ${block.problem}`, fix: `Fix the nanopolicy marker lines in ${shown} by hand, then ${INSTALL.toLowerCase()}` };
  if (block.lines === undefined) return { ...base, status: 'missing', detail: `${shown} has no nanopolicy block`, fix: INSTALL };
  if (block.count > 1) return { ...base, status: 'differs', detail: `${shown} has ${block.count} nanopolicy blocks`, fix: INSTALL };
  const want = file.content.lines;
  const same = block.lines.length === want.length && block.lines.every((l, i) => l.replace(/\r$/, '') === want[i]);
  return same ? { ...base, status: 'ok', detail: `${shown}: the nanopolicy block is as the policy wants it` } : { ...base, status: 'differs', detail: `${shown}: the nanopolicy block differs from the policy's ${want.length} line${want.length === 1 ? '' : 's'}`, fix: INSTALL };
}
