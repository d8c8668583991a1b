// The host side of vm/agent.mjs: starts it in the lab's VM namespace and sends it commands, each
// answered by the JSON line with the same id.

import { createInterface } from 'node:readline';
import type { ResultPromise } from 'execa';
import type { Lab } from '../lab/index.ts';

const AGENT = new URL('./vm/agent.mjs', import.meta.url).pathname;

export class VmAgent {
  private next = 1;
  private readonly waiting = new Map<number, (answer: Record<string, unknown>) => void>();

  private constructor(private readonly child: ResultPromise) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const answer = JSON.parse(line) as Record<string, unknown> & { id?: number };
      if (answer.id === undefined) return;
      this.waiting.get(answer.id)?.(answer);
      this.waiting.delete(answer.id);
    });
  }

  // Starts the agent and waits for its "ready" line.
  static async start(lab: Lab): Promise<VmAgent> {
    const child = lab.spawn('vm', ['node', AGENT, JSON.stringify({ gateway: lab.gateway })], { stdin: 'pipe', stdout: 'pipe', stderr: 'inherit', buffer: false });
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the VM agent did not start in 10 s')), 10_000);
      child.stdout!.once('data', () => (clearTimeout(timer), resolve()));
    });
    await ready;
    return new VmAgent(child);
  }

  // Sends one command; resolves with its answer (an `error` field if the agent's handler threw).
  request<T = Record<string, unknown>>(cmd: Record<string, unknown>): Promise<T> {
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve as (a: Record<string, unknown>) => void);
      this.child.stdin!.write(`${JSON.stringify({ ...cmd, id })}\n`);
    });
  }

  // Ends the agent (closing its stdin ends it; pending answers are dropped).
  stop(): void {
    this.child.stdin?.end();
  }
}
