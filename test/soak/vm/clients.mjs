// The soak's honest clients, inside the lab's VM namespace: for every path (each bridge, and the
// proxy) three patterns at once until the deadline or SIGTERM — a long-lived tunnel that streams
// steadily, many short connections, and a WebSocket-like one that idles then bursts — each checking
// every echoed byte (stream.mjs). One JSON line per finished connection on stdout, then {"done":true}.
//   node clients.mjs '<json>'   { gateway, targets: [{id, kind, port, banners, name?, ca?}],
//                                 untilMs (epoch ms), stallMs, idleMs: [min, max] }

import { checkedSession, sleep } from './stream.mjs';

const config = JSON.parse(process.argv[2] ?? '{}');
let stopping = false;
process.on('SIGTERM', () => (stopping = true));
const stopped = () => stopping || Date.now() >= config.untilMs;
const emit = (rec) => process.stdout.write(`${JSON.stringify(rec)}\n`);
const options = { stallMs: config.stallMs ?? 15000 };

// One long-lived connection streaming 8 KiB every 100 ms; reopened after a failure.
async function long(target) {
  while (!stopped()) {
    const rec = await checkedSession(target, config.gateway, options, async (send, drained, ended) => {
      while (!stopped() && !ended()) {
        send(8192);
        await sleep(100);
      }
      await Promise.race([drained(), sleep(5000)]);
    });
    emit({ ...rec, pattern: 'long' });
    if (!stopped()) await sleep(300);
  }
}

// Many short connections: 16 KiB each, all echoed, closed; a short pause between.
async function short(target) {
  while (!stopped()) {
    const rec = await checkedSession(target, config.gateway, options, async (send, drained) => {
      send(16384);
      await drained();
    });
    emit({ ...rec, pattern: 'short' });
    await sleep(target.kind === 'proxy' ? 300 : 150);
  }
}

// WebSocket-like: a small message, idle for a while, then a 64 KiB burst; again until the end.
async function idleBurst(target) {
  const [min, max] = config.idleMs ?? [2000, 6000];
  while (!stopped()) {
    const rec = await checkedSession(target, config.gateway, options, async (send, drained, ended) => {
      while (!stopped() && !ended()) {
        send(64);
        if (!(await drained())) return;
        const idle = min + Math.random() * (max - min);
        for (const until = Date.now() + idle; Date.now() < until && !stopped(); ) await sleep(100);
        if (stopped()) return;
        for (let i = 0; i < 4; i++) send(16384);
        if (!(await drained())) return;
      }
    });
    emit({ ...rec, pattern: 'idle-burst' });
    if (!stopped()) await sleep(300);
  }
}

await Promise.all(config.targets.flatMap((t) => [long(t), short(t), idleBurst(t)]));
emit({ done: true });
