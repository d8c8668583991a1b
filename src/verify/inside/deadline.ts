// Timeouts for probes, decided only after the I/O that already arrived has been handled. libuv runs
// timers before it polls for I/O: when the event loop was held past a deadline (worker threads
// starting, a loaded machine), an answer that came in time would lose to its own timeout, and for a
// probe that expects "blocked" a false timeout is a false pass. setImmediate runs after the poll.

/** setTimeout whose callback waits for one turn of I/O; clearTimeout still cancels it before it fires. */
export function deadline(fn: () => void, ms: number): NodeJS.Timeout {
  return setTimeout(() => setImmediate(fn), ms);
}
