// Benchmark: the egress proxy against a plain socat bridge (the form bridges.sh emits), both on
// the lab's gateway, both carrying TLS from the VM namespace to a TLS server for a `.test` name
// in the lab's "internet" (203.0.113.10, never routed; domain.md §7). The host namespace maps
// the name in its own hosts file; the proxy checks the SNI, so the far end must speak TLS.
//
//   node scripts/build.js && node --import tsx bench/proxy.ts [RUNS] [MIB] [ATTACKERS]   (root; ip, socat)
//
// Prints medians over RUNS (default 5) of a MIB (default 256) MiB download through each, and of
// the set-up time (TCP connect to TLS handshake done, 20 per run), with the ratios the issue
// sets as goals: throughput >= 0.8x socat, set-up within +2 ms. With ATTACKERS > 0, that many
// connections from the VM keep sending 60 KB ClientHellos in one-byte records through the proxy
// the whole time (issue 24's CPU attack), so the set-up times are honest latency under attack.
// NANOPOLICY_BENCH_PROXY=FILE runs another proxy bundle (an older build, to compare).

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLab } from '../test/lab/index.ts';

const runs = Number(process.argv[2] ?? 5);
const mib = Number(process.argv[3] ?? 256);
const attackers = Number(process.argv[4] ?? 0);
const bundle = process.env.NANOPOLICY_BENCH_PROXY ?? join(import.meta.dirname, '..', 'dist/proxy.js');
const NAME = 'bench.lab.test';
const FAR = '203.0.113.10';
const PROXY_PORT = 13128;
const SOCAT_PORT = 18443;
const SETUPS = 20;
const root = join(import.meta.dirname, '..');

const lab = await createLab({ hostHosts: { [NAME]: FAR } });
try {
  const certs = join(lab.dir, 'bench');
  mkdirSync(certs, { recursive: true });
  const leaf = lab.issueCert({ names: [NAME] });
  writeFileSync(join(certs, 'far.crt'), leaf.certPem);
  writeFileSync(join(certs, 'far.key'), leaf.keyPem, { mode: 0o600 });
  lab.spawn('wan', [process.execPath, join(root, 'bench/proxy-far-end.mjs'),
    JSON.stringify({ address: FAR, port: 443, cert: join(certs, 'far.crt'), key: join(certs, 'far.key') })]);
  await lab.waitListening('wan', FAR, 443);

  const vm = lab.vmAddress;
  const config = join(certs, 'proxy.json');
  writeFileSync(config, JSON.stringify({
    format: 1, vm: 'bench', listen: { host: lab.gateway, port: PROXY_PORT }, allowClients: [`${vm}/32`],
    rules: [{ name: 'bench', host: NAME, port: 443 }], denyNetworks: ['192.168.64.0/24'], auditLog: join(certs, 'audit.jsonl'),
  }));
  // `ip netns exec` execs node in place, so this pid is the proxy's own (for its peak memory).
  const proxy = lab.spawn('host', [process.execPath, bundle, '--config', config]);
  lab.spawn('host', ['socat', `TCP4-LISTEN:${SOCAT_PORT},bind=${lab.gateway},reuseaddr,fork,max-children=64,range=${vm}/32`, `TCP:${NAME}:443`]);
  await lab.waitListening('host', lab.gateway, PROXY_PORT);
  await lab.waitListening('host', lab.gateway, SOCAT_PORT);
  const attacker = attackers > 0 ? lab.spawn('vm', [process.execPath, join(root, 'bench/proxy-attacker.mjs'),
    JSON.stringify({ host: lab.gateway, port: PROXY_PORT, name: NAME, clients: attackers })]) : undefined;

  type Result = { setupMs: number[]; transferMs: number; rssBytes: number };
  const client = async (mode: 'proxy' | 'socat'): Promise<Result> => {
    const r = await lab.exec('vm', [process.execPath, join(root, 'bench/proxy-client.mjs'), JSON.stringify({
      mode, host: lab.gateway, port: mode === 'proxy' ? PROXY_PORT : SOCAT_PORT, name: NAME, ca: lab.ca.path,
      bytes: mib * 1048576, setups: SETUPS })], { timeoutMs: 300_000 });
    if (r.exitCode !== 0) throw new Error(`${mode} client failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as Result;
  };
  const results: Record<'proxy' | 'socat', Result[]> = { proxy: [], socat: [] };
  // Interleaved, and the first run of each discarded as warm-up, so both see the same machine load.
  await client('proxy');
  await client('socat');
  for (let i = 0; i < runs; i++) {
    results.proxy.push(await client('proxy'));
    results.socat.push(await client('socat'));
  }
  const med = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };
  const mbps = (r: Result): number => (mib * 1048576) / (r.transferMs / 1000) / 1e6;
  const thr = { proxy: med(results.proxy.map(mbps)), socat: med(results.socat.map(mbps)) };
  const setup = { proxy: med(results.proxy.flatMap((r) => r.setupMs)), socat: med(results.socat.flatMap((r) => r.setupMs)) };
  attacker?.kill('SIGTERM');
  const attacks = attacker ? Number(JSON.parse(((await attacker.catch((e: { stdout?: string }) => e)) as { stdout?: string }).stdout || '{"attacks":0}').attacks) : 0;
  const audit = await lab.exec('host', ['sh', '-c', `wc -l < ${join(certs, 'audit.jsonl')}`]);
  const cpu = readFileSync(`/proc/${proxy.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const cpuSeconds = (Number(cpu[11]) + Number(cpu[12])) / 100; // utime + stime, in clock ticks (100/s)
  const peak = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${proxy.pid}/status`, 'utf8'))?.[1];
  const lines = [
    `lab: vm ${vm} -> gateway ${lab.gateway} -> ${NAME} (${FAR}, TLS); ${runs} runs after a warm-up, medians${attackers > 0 ? `; under attack by ${attackers} hostile-hello clients` : ''}`,
    `proxy: ${bundle}; CPU used by the proxy over the whole bench: ${cpuSeconds.toFixed(1)} s${attackers > 0 ? `; attack connections answered: ${attacks}` : ''}`,
    `throughput, ${mib} MiB download:  proxy ${thr.proxy.toFixed(0)} MB/s   socat ${thr.socat.toFixed(0)} MB/s   ratio ${(thr.proxy / thr.socat).toFixed(2)}x (goal >= 0.80x)`,
    `set-up, connect to TLS done (${SETUPS * runs} each): proxy ${setup.proxy.toFixed(2)} ms   socat ${setup.socat.toFixed(2)} ms   difference ${(setup.proxy - setup.socat >= 0 ? '+' : '')}${(setup.proxy - setup.socat).toFixed(2)} ms (goal <= +2 ms)`,
    `proxy peak RSS over all ${runs + 1} transfers: ${(Number(peak) / 1024).toFixed(1)} MiB`,
    `audit log lines written by the proxy: ${audit.stdout.trim()} (a tunnel's open and final record; refusals rate-limited)`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await lab.teardown();
}
