// Fuzzing the language end to end: random bytes, random statements built from the grammar's own
// pieces (and the spellings attackers use), and mutations of valid policies. Whatever comes in,
// compile returns diagnostics or a policy, never an exception; every accepted policy emits artifacts
// that their own tools accept (sh -n, nft -c, visudo -c where present, a plist parser).
//
// Seeded: FUZZ_SEED=N reruns a failure (fast-check prints the seed and the shrunk input). Bounded:
// each property stops at its time limit, the whole file stays well under 20 s.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePolicy, type CompileOutcome } from '../../src/compiler/compile.ts';
import { decodeUtf8 } from '../../src/grammar/decode-utf8.ts';
import { formatDiagnostics } from '../../src/diagnostics/format-diagnostics.ts';
import { emitArtifacts } from '../../src/compiler/emit/index.ts';
import type { Artifact } from '../../src/compiler/artifact.ts';
import { FIXTURE_CWD, FIXTURE_HOME } from '../helpers/fixture-host.ts';

// A fixed seed by default, so `npm test` (and CI) is the same run every time; FUZZ_SEED=$RANDOM
// explores further, and a failure names its seed in the suite title.
const seed = Number(process.env['FUZZ_SEED'] ?? 20261127);
const params = (numRuns: number, ms: number) => ({ seed, numRuns, interruptAfterTimeLimit: ms, markInterruptAsFailure: false });
const root = join(import.meta.dirname, '../..');
const fuzz = suite(`fuzz (FUZZ_SEED=${seed})`);

// Every accepted policy's artifacts, checked with the real tools after the properties ran.
const accepted: Artifact[][] = [];

// Compiles text and checks the outcome's shape; throws (failing the property) on any exception.
function compileChecked(source: string, bytes?: Uint8Array): CompileOutcome {
  const file = 'fuzz.policy';
  const outcome = compilePolicy({ file, source, ...(bytes ? { bytes } : {}), home: FIXTURE_HOME, cwd: FIXTURE_CWD });
  const lines = source.split(/\r\n|\r|\n/).length;
  for (const d of outcome.diagnostics) {
    if (!/^NP\d{3}$/.test(d.code)) throw new Error(`bad code ${d.code}`);
    if (!(d.line >= 1 && d.line <= lines && d.column >= 1)) throw new Error(`diagnostic outside the file: ${JSON.stringify(d)}`);
  }
  const text = formatDiagnostics(outcome.diagnostics, { sources: new Map([[file, source]]), color: false });
  if (/[\u001b\u0007\u009b]/.test(text)) throw new Error('a control character from the policy reached the formatted output');
  if (outcome.policy) {
    const artifacts = emitArtifacts(outcome.policy);
    if (JSON.stringify(emitArtifacts(outcome.policy)) !== JSON.stringify(artifacts)) throw new Error('emit is not deterministic');
    if (accepted.length < 12) accepted.push(artifacts);
  } else if (!outcome.diagnostics.some((d) => d.severity === 'error')) {
    throw new Error('no policy and no error');
  }
  return outcome;
}

const name = fc.oneof(
  fc.constantFrom('a', 'nanoclaw-vm', 'groups', 'x1', '-bad', 'UP', 'a:b', 'a/b', 'a,b', 'é', 'n'.repeat(70)),
  fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/),
);
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
const host = fc.oneof(
  fc.constantFrom(
    '10.0.30.5', '0x7f000001', '127.1', '2130706433', '0177.0.0.1', '10.0.30.5.', 'vault.example.test', 'vault.0x1f', 'localhost',
    'a..b', '[::1]', '[2001:db8::5]', '[fe80::1%en0]', '[::ffff:127.0.0.1]', '[64:ff9b::a00:1]', '192.168.64.1', '198.51.100.7', '0.0.0.0',
    '255.255.255.255', '[', '[]', 'x'.repeat(70) + '.test',
  ),
  ipv4,
  fc.stringMatching(/^[a-z0-9.-]{1,20}$/),
);
const port = fc.oneof(fc.integer({ min: 0, max: 70000 }).map(String), fc.constantFrom('018443', '', 'x', '65535', '1023'));
const pin = fc.oneof(
  fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `sha256/${Buffer.from(b).toString('base64')}`),
  fc.constantFrom('sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=', 'sha256/abc', 'sha256/'),
);
const allowOption = fc.oneof(fc.constant('tls'), port.map((p) => `max-conn ${p}`), pin.map((p) => `pin ${p}`), fc.constantFrom('tlsx', 'pin', 'max-conn'));
const pathWord = fc.stringMatching(/^[A-Za-z0-9._ é-]{1,12}$/);
const path = fc.oneof(
  fc.constantFrom(
    '~/nanoclaw/groups', '~/.ssh', '~/.SSH', '/', '~', '/Users/owner', '/users/owner', '~/Library/keychains', '/tmp/x,ro', '~other/x',
    'rel/path', '~/a/../b', '"~/unterminated', '"~/a\\q"', '~/Caf\u00e9', '~/Cafe\u0301', '~/.config/nanopolicy', '/Users/owner/.config',
    '"~/x\u001b[2J"', '~/a\u202eb',
  ),
  pathWord.map((w) => `"~/shares/${w.replace(/["\\]/g, '')}"`),
  pathWord.map((w) => `~/${w.replace(/[ "#]/g, '_')}`),
);
const statement = fc.oneof(
  name.map((n) => `vm ${n}`),
  fc.tuple(fc.option(ipv4), fc.nat(33), fc.option(ipv4)).map(([s, p, g]) => `network softnet${s ? ` subnet ${s}/${p}` : ''}${g ? ` gateway ${g}` : ''}`),
  fc.tuple(name, host, port, port, fc.array(allowOption, { maxLength: 3 })).map(([n, h, tp, lp, o]) => `allow ${n} ${h}:${tp} via ${lp} ${o.join(' ')}`.trim()),
  fc.tuple(name, path, fc.constantFrom('ro', 'rw', 'rx', ''), fc.option(fc.constant('allow-sensitive'))).map(([n, p, m, a]) => `mount ${n} ${p} ${m}${a ? ` ${a}` : ''}`),
  fc.oneof(fc.integer({ min: -1, max: 1000 }), fc.constant('x')).map((n) => `snapshot keep ${n}`),
  fc.constantFrom('', '# comment', '\t  ', '\uFEFFvm x', 'vm', 'allow', 'mount a', 'network', 'network softnet subnet', 'snapshot', 'snapshot keep'),
  fc.string({ maxLength: 40 }),
);
const lineEnd = fc.constantFrom('\n', '\r\n', '\r');
const policyText = fc
  .tuple(name, fc.array(fc.tuple(statement, lineEnd), { maxLength: 12 }), fc.boolean())
  .map(([vm, rest, withVm]) => `${withVm ? `vm ${vm}\n` : ''}${rest.map(([s, e]) => s + e).join('')}`);

fuzz('random bytes: diagnostics or a policy, never an exception', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      const decoded = decodeUtf8(bytes, 'fuzz.policy');
      if (decoded.source === undefined) {
        assert.ok(decoded.diagnostics.length > 0 && decoded.diagnostics.every((d) => d.code === 'NP104'));
        return;
      }
      compileChecked(decoded.source, bytes);
    }),
    params(300, 2000),
  );
});

fuzz('random statements from the grammar: diagnostics or a policy, never an exception', () => {
  fc.assert(fc.property(policyText, (text) => void compileChecked(text)), params(1000, 3000));
});

const VALID = readdirSync(join(root, 'test/fixtures/valid'))
  .filter((f) => f.endsWith('.policy'))
  .map((f) => readFileSync(join(root, 'test/fixtures/valid', f), 'utf8'));
const mutation = fc.oneof(
  fc.tuple(fc.constant('delete' as const), fc.nat(), fc.nat(8)),
  fc.tuple(fc.constant('insert' as const), fc.nat(), fc.constantFrom(' ', '\t', '"', '#', ':', '.', '/', '\\', '\r', '\n', '~', '0', 'x', '\u0000', '\u00e9', '[', ']', '%')),
  fc.tuple(fc.constant('duplicate' as const), fc.nat(), fc.nat()),
);
fuzz('mutated valid policies: diagnostics or a policy, never an exception', () => {
  fc.assert(
    fc.property(fc.constantFrom(...VALID), fc.array(mutation, { minLength: 1, maxLength: 6 }), (text, edits) => {
      let out = text;
      for (const edit of edits) {
        const at = edit[1] % (out.length + 1);
        if (edit[0] === 'delete') out = out.slice(0, at) + out.slice(at + edit[2]);
        else if (edit[0] === 'insert') out = out.slice(0, at) + edit[2] + out.slice(at);
        else {
          const lines = out.split('\n');
          lines.splice(at % (lines.length + 1), 0, lines[edit[2] % lines.length] ?? '');
          out = lines.join('\n');
        }
      }
      compileChecked(out);
    }),
    params(1000, 3000),
  );
});

fuzz('every accepted policy emits artifacts their own tools accept', () => {
  assert.ok(accepted.length > 0, 'the fuzzers accepted no policy at all: the generators are too narrow');
  const dir = mkdtempSync(join(tmpdir(), 'np-fuzz-'));
  const ci = process.env['CI'] === 'true';
  const have = (tool: string, args: string[]) => {
    const found = spawnSync(tool, args).error === undefined;
    if (!found && ci && tool !== 'visudo') throw new Error(`${tool} is missing: CI must install it`);
    return found;
  };
  const nft = have('nft', ['--version']);
  const visudo = have('visudo', ['--version']);
  const python = have('python3', ['--version']);
  try {
    const plists: string[] = [];
    accepted.forEach((artifacts, i) => {
      for (const a of artifacts) {
        const file = join(dir, `${i}-${a.name}`);
        writeFileSync(file, a.content);
        if (a.name.endsWith('.sh')) {
          const r = spawnSync('sh', ['-n', file], { encoding: 'utf8' });
          assert.is(r.status, 0, `sh -n ${a.name}: ${r.stderr}\n${a.content}`);
        } else if (a.name === 'nft.conf' && nft) {
          const r = spawnSync('nft', ['-c', '-f', file], { encoding: 'utf8' });
          assert.is(r.status, 0, `nft -c: ${r.stderr}\n${a.content}`);
        } else if (a.name === 'sudoers' && visudo) {
          const r = spawnSync('visudo', ['-c', '-f', file], { encoding: 'utf8' });
          assert.is(r.status, 0, `visudo -c: ${r.stdout}${r.stderr}\n${a.content}`);
        } else if (a.name === 'launchd.plist') {
          plists.push(file);
        } else if (a.name.endsWith('.json')) {
          JSON.parse(a.content);
        }
      }
    });
    if (python && plists.length > 0) {
      const r = spawnSync('python3', ['-c', 'import plistlib,sys\nfor f in sys.argv[1:]:\n  plistlib.load(open(f,"rb"))', ...plists], { encoding: 'utf8' });
      assert.is(r.status, 0, `plist: ${r.stderr}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

fuzz.run();
