// The one runner every backend uses: executes the steps in order, records each completed step in
// the state (persisted at once), and on a failure undoes what was done in reverse order. The failed
// step is undone too, since it may have done part of its work; undos are written to be safe then.

import { formatCommand, type Cmd } from '../host/command.ts';
import type { Step, StepContext } from './step.ts';
import { StepError } from './step.ts';

export interface UndoFailure {
  step: string;
  error: string;
  /** The exact commands a person must still run: each concrete, never with a placeholder in it. */
  manual: string[];
  /** Where an undo needs a value no one recorded: what to look up, and how, instead of a command. */
  lookUp?: string[];
}

/** A stand-in for a value not known yet (`<token>`, `<pid>`, `'<vm>-np-<snapshot>'`), as --dry-run shows them. */
const PLACEHOLDER = /<[a-z][a-z0-9_-]*>/;

// The manual part of an undo: its concrete commands, and for each command that holds a
// placeholder, the step's sentence saying what to look up instead. A command with a placeholder
// filled in by guesswork can do harm (`tart delete` of the wrong clone deletes a rollback point).
export function manualUndo(steps: readonly Step[], ctx: StepContext): { manual: string[]; lookUp: string[] } {
  const manual: string[] = [];
  const lookUp: string[] = [];
  for (const step of steps) {
    const commands = step.undoCommands(ctx);
    const concrete = commands.filter((c) => !hasPlaceholder(c));
    manual.push(...concrete.map(formatCommand));
    if (concrete.length < commands.length) lookUp.push(`${step.id}: ${step.lookUp?.(ctx) ?? 'a value its undo needs was not recorded; nothing of it is safe to run blind'}`);
  }
  return { manual, lookUp };
}

function hasPlaceholder(c: Cmd): boolean {
  return [c.file, ...c.args].some((a) => PLACEHOLDER.test(a));
}

export type PlanOutcome =
  | { ok: true; completed: string[] }
  | { ok: false; failedStep: string; error: string; fix?: string; undone: string[]; undoFailures: UndoFailure[] };

// Runs `steps`; `persist` is called after every change to ctx.state.
export async function runPlan(steps: readonly Step[], ctx: StepContext, persist: () => void): Promise<PlanOutcome> {
  const done: Step[] = [];
  for (const step of steps) {
    ctx.log(`${step.id}: ${step.describe}`);
    try {
      await step.run(ctx);
    } catch (error) {
      const fix = error instanceof StepError ? error.fix : undefined;
      const message = (error as Error)?.message ?? String(error);
      persist();
      const { undone, failures } = await undoSteps([...done, step], ctx, persist);
      return { ok: false, failedStep: step.id, error: message, ...(fix ? { fix } : {}), undone, undoFailures: failures };
    }
    done.push(step);
    ctx.state.completed.push(step.id);
    persist();
  }
  return { ok: true, completed: done.map((s) => s.id) };
}

// Undoes `steps` last first, carrying on past a failed undo so as much as possible is removed —
// except past a step that guards the rest (the VM's stop): then everything before it stays, and
// the manual commands list that step's undo and every one still to run, in order.
export async function undoSteps(
  steps: readonly Step[],
  ctx: StepContext,
  persist: () => void,
): Promise<{ undone: string[]; failures: UndoFailure[] }> {
  const undone: string[] = [];
  const failures: UndoFailure[] = [];
  const order = [...steps].reverse();
  for (const [i, step] of order.entries()) {
    try {
      await step.undo(ctx);
      undone.push(step.id);
      ctx.state.completed = ctx.state.completed.filter((id) => id !== step.id);
    } catch (error) {
      const message = (error as Error)?.message ?? String(error);
      if (step.haltUndoOnFailure) {
        const held = order.slice(i + 1).filter((s) => s.undoCommands(ctx).length > 0).map((s) => s.id);
        const { manual, lookUp } = manualUndo(order.slice(i), ctx);
        failures.push({
          step: step.id,
          error: `${message} Nothing after it was undone (${held.join(', ') || 'nothing left'}): the rules stay while the VM may run.`,
          manual,
          ...(lookUp.length ? { lookUp } : {}),
        });
        persist();
        break;
      }
      const { manual, lookUp } = manualUndo([step], ctx);
      failures.push({ step: step.id, error: message, manual, ...(lookUp.length ? { lookUp } : {}) });
    }
    persist();
  }
  return { undone, failures };
}
