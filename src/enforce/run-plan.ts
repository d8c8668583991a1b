// The one runner every backend uses: executes the steps in order, records each completed step in
// the state (persisted at once), and on a failure undoes what was done in reverse order. The failed
// step is undone too, since it may have done part of its work; undos are written to be safe then.

import { formatCommand } from './command.ts';
import type { Step, StepContext } from './step.ts';
import { StepError } from './step.ts';

export interface UndoFailure {
  step: string;
  error: string;
  /** The exact commands a person must still run. */
  manual: string[];
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

// Undoes `steps` last first, carrying on past a failed undo so as much as possible is removed.
export async function undoSteps(
  steps: readonly Step[],
  ctx: StepContext,
  persist: () => void,
): Promise<{ undone: string[]; failures: UndoFailure[] }> {
  const undone: string[] = [];
  const failures: UndoFailure[] = [];
  for (const step of [...steps].reverse()) {
    const manual = step.undoCommands(ctx).map(formatCommand);
    try {
      await step.undo(ctx);
      undone.push(step.id);
      ctx.state.completed = ctx.state.completed.filter((id) => id !== step.id);
    } catch (error) {
      failures.push({ step: step.id, error: (error as Error)?.message ?? String(error), manual });
    }
    persist();
  }
  return { undone, failures };
}
