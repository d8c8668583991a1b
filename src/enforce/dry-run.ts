// `enforce --dry-run`: every command the plan would run, in order, each with its undo, and a
// unified diff between the rules loaded now and the rules it would load. Runs read-only commands
// only (reading the loaded rules).

import { readFileSync } from 'node:fs';
import { formatCommand } from '../host/command.ts';
import type { Session } from './session.ts';
import { loadedRulesPath } from '../formats/enforce-state.ts';
import { runPreflight, type PreflightProblem } from './preflight.ts';

export interface DryRun {
  text: string;
  problems: PreflightProblem[];
}

// Renders the plan with placeholders for values known only at run time; with the preflight's
// problems (dryRun runs the checks), each check is marked as enforce would find it now.
export function renderPlan(session: Session, problems?: readonly PreflightProblem[]): string {
  const { plan, policy } = session;
  const ctx = session.context(session.fresh());
  const lines = [`Plan for the VM "${policy.vm}" (backend ${plan.backend}, rules ${plan.rulesName}, state ${session.stateDir}):`, ''];
  lines.push(problems === undefined ? 'Preflight (changes nothing):' : 'Preflight (changes nothing; run now, as enforce would):');
  for (const check of plan.preflight) {
    const mine = problems?.filter((p) => p.check === check.id) ?? [];
    const mark = problems === undefined ? '' : mine.length === 0 ? '[would pass] ' : '[WOULD FAIL] ';
    lines.push(`  - ${mark}${check.describe}`);
    for (const c of check.commands) lines.push(`      check: ${formatCommand(c)}`);
    for (const p of mine) lines.push(`      problem: ${p.message}`, `      fix: ${p.fix}`);
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
    // Said as it is: the system printed these rules, or printed none (nothing loaded, or it could
    // not be asked — the preflight above says which).
    label = current === undefined ? `loaded (${session.plan.rulesName}: the system printed no rules)` : `loaded (${session.plan.rulesName}, as the system prints it)`;
  }
  const { createTwoFilesPatch } = await import('diff'); // loaded only for a dry run
  const patch = createTwoFilesPatch(label, 'to load', current ?? '', session.plan.rulesText, undefined, undefined, { context: 3 });
  return patch;
}

// The whole dry-run output: the preflight run now (read-only, as enforce runs it), the plan, and
// the rules diff. `problems` is empty when enforce's preflight would pass.
export async function dryRun(session: Session): Promise<DryRun> {
  const problems = await runPreflight(session.plan.preflight, { runner: session.runner, env: session.options.env });
  const diff = await rulesDiff(session);
  const verdict = problems.length === 0 ? 'Preflight: every check would pass.' : `Preflight: ${problems.length} problem${problems.length === 1 ? '' : 's'}; enforce would stop before changing anything.`;
  return { text: `${renderPlan(session, problems)}\n${verdict}\n\nRules diff:\n${diff}`, problems };
}
