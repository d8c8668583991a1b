// `enforce --dry-run`: every command the plan would run, in order, each with its undo, and a
// unified diff between the rules loaded now and the rules it would load. Runs read-only commands
// only (reading the loaded rules).

import { readFileSync } from 'node:fs';
import { formatCommand } from '../host/command.ts';
import type { Session } from './session.ts';
import { loadedRulesPath } from '../formats/enforce-state.ts';

export interface DryRun {
  text: string;
}

// Renders the plan with placeholders for values known only at run time.
export function renderPlan(session: Session): string {
  const { plan, policy } = session;
  const ctx = session.context(session.fresh());
  const lines = [`Plan for the VM "${policy.vm}" (backend ${plan.backend}, rules ${plan.rulesName}, state ${session.stateDir}):`, ''];
  lines.push('Preflight (changes nothing):');
  for (const check of plan.preflight) {
    lines.push(`  - ${check.describe}`);
    for (const c of check.commands) lines.push(`      check: ${formatCommand(c)}`);
  }
  lines.push('', 'Steps (on a failure, the undos of the steps done so far run in reverse):');
  plan.steps.forEach((step, i) => {
    lines.push(`  ${i + 1}. ${step.id}: ${step.describe}`);
    for (const c of step.commands(ctx)) lines.push(`      run:  ${formatCommand(c)}`);
    const undo = step.undoCommands(ctx);
    if (undo.length === 0) lines.push('      undo: (nothing to undo)');
    for (const c of undo) lines.push(`      undo: ${formatCommand(c)}`);
  });
  return `${lines.join('\n')}\n`;
}

// The diff between what is loaded now (our saved copy, else what the system prints) and the new rules.
export async function rulesDiff(session: Session): Promise<string> {
  let current: string | undefined;
  let label = 'loaded';
  try {
    current = readFileSync(loadedRulesPath(session.stateDir), 'utf8');
    label = `loaded (${loadedRulesPath(session.stateDir)})`;
  } catch {
    current = await session.plan.loadedRules(session.runner);
    label = `loaded (${session.plan.rulesName}, as the system prints it)`;
  }
  const { createTwoFilesPatch } = await import('diff'); // loaded only for a dry run
  const patch = createTwoFilesPatch(label, 'to load', current ?? '', session.plan.rulesText, undefined, undefined, { context: 3 });
  return patch;
}

// The whole dry-run output.
export async function dryRun(session: Session): Promise<DryRun> {
  const diff = await rulesDiff(session);
  return { text: `${renderPlan(session)}\nRules diff:\n${diff}` };
}
