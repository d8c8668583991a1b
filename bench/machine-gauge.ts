// How much of the machine a round of the benchmark had. A figure measured while another program
// held a core, or while the host slowed this one, is the machine's figure rather than the code's:
// the ratio rows mostly cancel it (subject and reference share the round), the rows in added or
// absolute time do not. So between rounds (untimed) the bench spins a fixed loop on one thread,
// then on every core at once, and reports per row how many cores were free and how fast one was
// against the fastest seen in this run. It marks rows measured on a busy machine; it never
// adjusts a figure or a goal.
//
// It samples between rounds, not during them: a busy phase shorter than a round can slip past.

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** One reading between rounds. */
export interface GaugeReading {
  /** Cores that could run the loop at full speed at once: about `cores` on a whole machine. */
  freeCores: number;
  /** The loop's time on one thread alone; against the run's fastest, one core's speed. */
  soloMs: number;
}

/** A series' readings, as a row reports them. */
export interface MachineSummary {
  cores: number;
  rounds: number;
  /** Rounds where fewer than `cores − 0.5` cores were free or a core ran below BUSY_SPEED. */
  busyRounds: number;
  worstFreeCores: number;
  /** The slowest round's single-core speed against the fastest reading of the whole run (1 = as fast). */
  worstSpeed: number;
}

/** Below this fraction of the run's best single-core speed, a round counts as busy. */
export const BUSY_SPEED = 0.8;
/** The loop's length on one free core, once calibrated. */
const TARGET_MS = 25;

// A fixed integer loop (a linear congruential step); `x` is returned so it cannot be optimised away.
const SPIN = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (n) => {
  const started = performance.now();
  let x = 1;
  for (let i = 0; i < n; i++) x = (Math.imul(x, 1103515245) + 12345) | 0;
  parentPort.postMessage({ ms: performance.now() - started, x });
});
`;

export class MachineGauge {
  private constructor(
    private readonly workers: Worker[],
    private readonly iterations: number,
  ) {}

  /** Starts one idle thread per core and sizes the loop to ~25 ms on one of them. */
  static async start(cores = availableParallelism()): Promise<MachineGauge> {
    const workers = Array.from({ length: cores }, () => new Worker(SPIN, { eval: true }));
    for (const w of workers) w.unref();
    // Warm the loop up (it is compiled on first runs), then scale it to TARGET_MS.
    let n = 1_000_000;
    let ms = 0;
    for (let i = 0; i < 4; i++) ms = await spin(workers[0]!, n);
    n = Math.max(100_000, Math.round((n * TARGET_MS) / Math.max(ms, 0.1)));
    return new MachineGauge(workers, n);
  }

  get cores(): number {
    return this.workers.length;
  }

  /** One reading: the loop alone, then on every core at once (each the better of two tries). */
  async read(): Promise<GaugeReading> {
    const solo = Math.min(await spin(this.workers[0]!, this.iterations), await spin(this.workers[0]!, this.iterations));
    const allAtOnce = async () => Math.max(...(await Promise.all(this.workers.map((w) => spin(w, this.iterations)))));
    const together = Math.min(await allAtOnce(), await allAtOnce());
    return { freeCores: Math.min(this.cores, (this.cores * solo) / together), soloMs: solo };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

// Runs the loop n times on one worker; resolves with its time in ms.
function spin(worker: Worker, n: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    worker.once('error', onError);
    worker.once('message', (m: { ms: number }) => {
      worker.off('error', onError);
      resolve(m.ms);
    });
    worker.postMessage(n);
  });
}

/** Whether one reading shows a busy machine; `bestSoloMs`: the run's fastest single-thread loop. */
export function isBusy(r: GaugeReading, cores: number, bestSoloMs: number): boolean {
  return r.freeCores < cores - 0.5 || bestSoloMs / r.soloMs < BUSY_SPEED;
}

/** Sums up a series' readings against the whole run's fastest; undefined when there are none. */
export function summarizeMachine(readings: readonly GaugeReading[], cores: number, bestSoloMs: number): MachineSummary | undefined {
  if (readings.length === 0) return undefined;
  return {
    cores,
    rounds: readings.length,
    busyRounds: readings.filter((r) => isBusy(r, cores, bestSoloMs)).length,
    worstFreeCores: Math.min(...readings.map((r) => r.freeCores)),
    worstSpeed: bestSoloMs / Math.max(...readings.map((r) => r.soloMs)),
  };
}
