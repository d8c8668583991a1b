// The host's checks on what the VM returns and on what the host itself saw: the challenge, the rows'
// shape and groups, control characters, the firewall counters, the canary ports and the running
// tart/softnet arguments. Each test is a move a hostile VM or a careless owner would make.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compilePolicy } from '../../../src/compiler/compile.ts';
import { artifactsFor } from '../../../src/compiler/artifacts-from-emitters.ts';
import { buildVerifyManifest } from '../../../src/compiler/emit/verify-manifest.ts';
import { tartRunArgv } from '../../../src/compiler/emit/tart-run.ts';
import { checkReport } from '../../../src/verify/host/check-report.ts';
import { hasUnsafeText, sanitizeText } from '../../../src/verify/sanitize-text.ts';
import { parseNftCounters, parsePfCounters } from '../../../src/verify/host/firewall-counters.ts';
import { claimsOf, counterEvidence } from '../../../src/verify/host/counter-evidence.ts';
import { canaryCandidates } from '../../../src/verify/host/canaries.ts';
import { checkVmProcesses, compareJoinedArgs, parsePs } from '../../../src/verify/host/vm-processes.ts';
import { formatReport } from '../../../src/verify/format-report.ts';
import { runCommand, type RunCommand } from '../../../src/host/run-command.ts';
import { spawn } from 'node:child_process';
import type { ProbeResult } from '../../../src/verify/inside/result.ts';

const t = suite('verify: checks on the VM report and host evidence');
const root = join(import.meta.dirname, '../../..');
const policy = compilePolicy({ file: 'policy/nanoclaw.policy', source: readFileSync(join(root, 'policy/nanoclaw.policy'), 'utf8'), home: '/Users/owner', cwd: '/Users/owner/cfg' }).policy!;
const manifest = buildVerifyManifest(policy);
const row = (group: string, extra: Partial<ProbeResult> = {}): ProbeResult => ({ group, probe: `${group} probe`, expected: 'blocked', measured: 'blocked', ok: true, ms: 3, ...extra });
const failing = (c: ReturnType<typeof checkReport>) => c.problems.filter((p) => !p.ok).map((p) => p.detail ?? '');

t('the right challenge passes; a missing or old one (a replayed report) fails', () => {
  const results = [row('gateway'), row('mounts')];
  assert.equal(failing(checkReport({ challenge: 'abc', results }, 'abc')), []);
  assert.match(failing(checkReport({ results }, 'abc'))[0]!, /carries no challenge/);
  assert.match(failing(checkReport({ challenge: 'old', results }, 'abc'))[0]!, /replayed from an earlier run or forged/);
});

t('rows the VM claims for host groups (host, canary, anything else) are refused', () => {
  const c = checkReport({ challenge: 'x', results: [row('host', { probe: 'nft table' }), row('canary'), row('canary'), row('gateway'), row('evidence')] }, 'x');
  assert.equal(c.rows.map((r) => r.group), ['gateway']);
  const f = failing(c);
  assert.ok(f.some((d) => /claims 1 row\(s\) for "host", which only the host may report/.test(d)), f.join('\n'));
  assert.ok(f.some((d) => /claims 2 row\(s\) for "canary"/.test(d)));
  assert.ok(f.some((d) => /"evidence"/.test(d)));
});

t('rows of another shape are dropped and named', () => {
  const c = checkReport({ challenge: 'x', results: [null, 5, { group: 'gateway', ok: 'yes' }, row('dns', { ok: 1 as unknown as boolean }), row('dns')] }, 'x');
  assert.is(c.rows.length, 1);
  assert.match(failing(c).join(), /4 row\(s\) the probe never writes/);
});

t('escape sequences and bidi overrides are shown escaped and fail the report', () => {
  const hidden = row('gateway', { probe: 'ok row\u001b[2K\u001b[1A\r', measured: '\u202egninrow', detail: 'x\u0007' });
  const c = checkReport({ challenge: 'x', results: [hidden] }, 'x');
  for (const text of [c.rows[0]!.probe, c.rows[0]!.measured, c.rows[0]!.detail!]) assert.not.ok(hasUnsafeText(text), text);
  assert.match(c.rows[0]!.probe, /\\u\{1b\}\[2K/);
  assert.match(failing(c).join(), /control characters or escape sequences/);
  assert.not.match(formatReport([...c.problems, ...c.rows]), /[\u001b\u0007\r\u202e]/);
});

t('property: sanitized text never holds a control character and is bounded', () => {
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 800 }), (s) => {
    const out = sanitizeText(s);
    return !hasUnsafeText(out) && out.length <= 500 && (hasUnsafeText(s) || s.length > 500 || out === s);
  }), { seed: 8, numRuns: 500 });
});

t('property: checkReport never throws on any JSON the VM can send', () => {
  fc.assert(fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => {
    const c = checkReport(v, 'x');
    return c.rows.every((r) => !hasUnsafeText(r.probe)) && c.problems.some((p) => p.probe.includes('challenge'));
  }), { seed: 8, numRuns: 300 });
});

const NFT_LIVE = `table inet nanopolicy_nanoclaw_vm {
	chain input {
		ip saddr 192.168.64.0/24 ip daddr 192.168.64.1 tcp dport { 16443, 18123, 18443 } counter packets 12 bytes 900 accept
		iifname "bridge100" meta nfproto ipv6 counter packets 2 bytes 100 reject with icmpv6 admin-prohibited
		ip saddr 192.168.64.0/24 meta l4proto tcp counter packets 65540 bytes 3932400 reject with tcp reset
		ip saddr 192.168.64.0/24 counter packets 5 bytes 300 reject with icmpx admin-prohibited
	}
	chain forward {
		iifname "bridge100" counter packets 3 bytes 1 reject with icmpx admin-prohibited
	}
}`;

t('nft counters: accepts are bridged, rejects refused', () => {
  assert.equal(parseNftCounters(NFT_LIVE), { blocked: 65550, bridged: 12 });
});

t('pf counters: pfctl -vsr, block rules refused, TCP passes to the gateway bridged (service names too)', () => {
  const text = `pass out quick inet from 192.168.64.1 to 192.168.64.0/24 flags S/SA keep state
  [ Evaluations: 10        Packets: 99        Bytes: 1         States: 0     ]
  [ Inserted: uid 0 pid 1 State Creations: 0     ]
pass in quick inet proto tcp from 192.168.64.0/24 to 192.168.64.1 port = 18443 flags S/SA keep state
  [ Evaluations: 10        Packets: 7         Bytes: 1         States: 0     ]
pass in quick inet proto tcp from 192.168.64.0/24 to 192.168.64.1 port = http-alt flags S/SA keep state
  [ Evaluations: 10        Packets: 4         Bytes: 1         States: 0     ]
pass in quick inet proto udp from 0.0.0.0 port = bootpc to 255.255.255.255 port = bootps keep state
  [ Evaluations: 10        Packets: 50        Bytes: 1         States: 0     ]
block return in log quick inet from 192.168.64.0/24 to any
  [ Evaluations: 70000     Packets: 65534     Bytes: 1         States: 0     ]
block return in log quick on bridge100 all
  [ Evaluations: 10        Packets: 3         Bytes: 1         States: 0     ]
`;
  assert.equal(parsePfCounters(text, '192.168.64.1'), { blocked: 65537, bridged: 11 });
});

t('counter evidence: a report that claims a full sweep needs that many refused packets', () => {
  const rows = [row('gateway', { expected: 'all closed' }), row('bridges'), row('bridges'), row('dns', { probe: `UDP ${manifest.gateway}:53 example.com` })];
  const claims = claimsOf(rows, manifest);
  assert.is(claims.blocked, 65535 - manifest.gatewaySweep.except.length + 1);
  assert.is(claims.bridged, 2);
  assert.ok(counterEvidence({ blocked: 10, bridged: 0 }, { blocked: 10 + claims.blocked, bridged: 2 }, claims, 'nft table').ok);
  const forged = counterEvidence({ blocked: 10, bridged: 0 }, { blocked: 12, bridged: 0 }, claims, 'nft table');
  assert.is(forged.ok, false);
  assert.match(forged.detail!, /did not really cross the firewall/);
  assert.is(counterEvidence('nft list table failed', { blocked: 0, bridged: 0 }, claims, 'nft table').ok, false);
});

t('canary ports are random per run, above 1023, never a bridge or allowed port', () => {
  const except = manifest.gatewaySweep.except;
  const a = canaryCandidates(except);
  const b = canaryCandidates(except);
  assert.not.equal(a, b);
  for (const p of [...a, ...b]) assert.ok(p >= 1024 && p <= 65535 && !except.includes(p));
  const crowded = Array.from({ length: 64000 }, (_, i) => i + 1024);
  for (const p of canaryCandidates(crowded, 20)) assert.ok(p > 65023);
});

// A fake ps: the policy's tart and softnet as given.
function fakePs(tartArgs: string, softnetArgs: string): RunCommand {
  return async (argv) => {
    if (argv[0] !== 'ps') return { exitCode: 1, stdout: '', stderr: 'unexpected' };
    return {
      exitCode: 0,
      stderr: '',
      stdout: [
        '    1     0 /sbin/launchd',
        `  500     1 /opt/homebrew/bin/tart ${tartArgs}`,
        `  501   500 /opt/homebrew/bin/softnet --vm-fd 0 --vm-mac-address 9e:1a:2b:3c:4d:5e ${softnetArgs}`,
        '  777     1 /usr/bin/vim notes.txt',
      ].join('\n'),
    };
  };
}
const COMPILED = tartRunArgv(policy).join(' ');
const SOFTNET = `--allow ${policy.network.gateway}/32 --block 0.0.0.0/0`;

t('processes: the compiled tart and softnet pass', async () => {
  const rows = await checkVmProcesses(policy, artifactsFor(policy), fakePs(COMPILED, SOFTNET));
  assert.equal(rows.map((r) => r.ok), [true, true], JSON.stringify(rows));
});

t('processes: a missing --no-audio, an extra share, a missing share, a wider softnet are named', async () => {
  const cases: Array<[string, string, RegExp]> = [
    [COMPILED.replace(' --no-audio', ''), SOFTNET, /missing "--no-audio".*microphone/],
    [COMPILED.replace(' --no-clipboard', ''), SOFTNET, /missing "--no-clipboard"/],
    [COMPILED.replace(' nanoclaw-vm', ' --dir=home:/Users/owner nanoclaw-vm'), SOFTNET, /extra "--dir=home:\/Users\/owner"/],
    [COMPILED.replace(/ --dir=scripts:\S+/, ''), SOFTNET, /missing "--dir=scripts:/],
    [COMPILED.replace(/--dir=scripts:(\S+):ro/, '--dir=scripts:$1'), SOFTNET, /missing "--dir=scripts:.*:ro".*extra "--dir=scripts:/],
    [COMPILED, `${SOFTNET} --allow 0.0.0.0/0`, /softnet\[501\] runs with/],
    [COMPILED, `${SOFTNET} --expose 2222:22`, /not the compiled/],
    [COMPILED, '--block 0.0.0.0/0', /not the compiled/],
  ];
  for (const [tart, softnet, pattern] of cases) {
    const rows = await checkVmProcesses(policy, artifactsFor(policy), fakePs(tart, softnet));
    const details = rows.filter((r) => !r.ok).map((r) => r.detail).join(' | ');
    assert.match(details, pattern, `${tart} / ${softnet}`);
  }
});

t('processes: no tart for the VM is a failure; paths with spaces compare whole', async () => {
  const rows = await checkVmProcesses(policy, artifactsFor(policy), fakePs(COMPILED.replace('nanoclaw-vm', 'other-vm'), SOFTNET));
  assert.match(rows[0]!.detail!, /no "tart run … nanoclaw-vm" process is running/);
  assert.equal(compareJoinedArgs('run --dir=a:/x y/z --no-audio vm', ['run', '--dir=a:/x y/z', '--no-audio', 'vm']), { missing: [], extra: '' });
  assert.equal(compareJoinedArgs('run --dir=a:/x y/z vm', ['run', '--dir=a:/x', '--no-audio', 'vm']), { missing: ['--no-audio'], extra: 'y/z' });
  assert.equal(parsePs('  12   1 a b\nnot a line\n'), [{ pid: 12, ppid: 1, args: 'a b' }]);
});

t('processes: real processes read through ps (perl sets its own command line)', async () => {
  const mine = { ...policy, vm: `np-ps-${process.pid}` };
  const tart = `/opt/fake/tart ${tartRunArgv(mine).join(' ').replace(' --no-audio', '')}`;
  const softnet = `/opt/fake/softnet --vm-fd 0 --vm-mac-address 9e:1a:2b:3c:4d:5e --allow ${mine.network.gateway}/32 --block 0.0.0.0/0`;
  const child = spawn('perl', ['-e', 'if (fork) { $0 = $ARGV[0]; sleep 30 } else { $0 = $ARGV[1]; sleep 30 }', tart, softnet], { stdio: 'ignore' });
  try {
    let rows: ProbeResult[] = [];
    for (let i = 0; i < 50; i++) {
      rows = await checkVmProcesses(mine, artifactsFor(mine), runCommand);
      if (rows.length === 2 && rows[1]!.ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.is(rows[0]!.ok, false);
    assert.match(rows[0]!.detail!, /missing "--no-audio"/);
    assert.is(rows[1]!.ok, true, rows[1]!.detail);
  } finally {
    // The forked child is in the same process group only if we make it so: kill both by pid.
    const kids = (await runCommand(['ps', '-o', 'pid=', '--ppid', String(child.pid)])).stdout.trim().split(/\s+/).filter(Boolean);
    for (const k of kids) process.kill(Number(k), 'SIGKILL');
    child.kill('SIGKILL');
  }
});

t.run();
