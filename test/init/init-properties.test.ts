// Property tests: whatever bytes an install's scripts and names hold, the socat reader never
// throws, every bridge it reports is written in the script, and init's policy passes check and
// holds only statements built from what was found.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { join } from 'node:path';
import { compilePolicy } from '../../src/compiler/compile.ts';
import { findSocatBridges } from '../../src/init/find-socat-bridges.ts';
import { splitShellCommands } from '../../src/init/shell-commands.ts';
import { initPolicy } from '../../src/init/init-policy.ts';
import { buildInstall } from './build-install.ts';

const SEED = 20261127;
/** init's two egress lines: constant text, never built from what the install holds. */
const EGRESS = ['egress claude api.anthropic.com claude.ai platform.claude.com', 'egress discord discord.com gateway.discord.gg *.discord.gg cdn.discordapp.com'];
const piece = fc.constantFrom('socat', ' ', '\n', '\\\n', "'", '"', '#', 'TCP-LISTEN:', 'TCP4:', 'TCP:', 'bind=$VM_IP', ',fork', ':443', '18443', 'a.test', '10.0.30.5', '$X', 'X=b.test', '${X:-c.test}', ';', '&', '|', '\r', '\u2028', 'mount / rw', 'allow');
const script = fc.array(fc.oneof(piece, fc.string({ maxLength: 6 })), { maxLength: 40 }).map((p) => p.join(''));

test('the shell splitter and socat finder never throw, and report only what the text holds', () => {
  fc.assert(
    fc.property(script, (text) => {
      splitShellCommands(text);
      const { bridges } = findSocatBridges('s.sh', text);
      for (const b of bridges) {
        assert.ok(b.listen >= 1 && b.listen <= 65535);
        assert.ok(/^[A-Za-z0-9._:-]+$/.test(b.host), `host ${JSON.stringify(b.host)}`);
        assert.ok(text.includes(String(b.listen)), 'the listen port is in the text');
        assert.ok(text.includes(String(b.port)), 'the target port is in the text');
      }
    }),
    { seed: SEED, numRuns: 400, interruptAfterTimeLimit: 5000 },
  );
});

test('init on random scripts and folder names: passes check, statements only of the five known shapes', () => {
  const name = fc.string({ minLength: 1, maxLength: 12 }).filter((n) => !n.includes('/') && n !== '.' && n !== '..' && !n.includes('\u0000'));
  fc.assert(
    fc.property(script, fc.array(name, { maxLength: 3 }), (text, folders) => {
      const entries: Record<string, string | { dir: true }> = { 'scripts/run.sh': text, 'groups/a': '' };
      for (const f of folders) entries[f] = { dir: true };
      const install = buildInstall(entries);
      try {
        const r = initPolicy({ from: install.root, home: install.home, vm: 'nanoclaw-vm', allowlistFile: join(install.home, 'none.json') });
        const outcome = compilePolicy({ file: 'p.policy', source: r.policy, home: install.home, cwd: join(install.home, '.config') });
        assert.equal(outcome.diagnostics.filter((d) => d.severity === 'error'), []);
        for (const line of r.policy.split('\n')) {
          if (line === '' || line.startsWith('#')) continue;
          assert.ok(
            EGRESS.includes(line) || /^(vm nanoclaw-vm|snapshot keep 3|allow [a-z][a-z0-9-]* [A-Za-z0-9.-]+:\d+ via \d+( tls)?|mount (groups|data|memory|scripts) ~\/nanoclaw\/\w+ r[ow])$/.test(line),
            `unexpected statement ${JSON.stringify(line)}`,
          );
          const m = /^allow \S+ (\S+):(\d+) via (\d+)/.exec(line);
          if (m) assert.ok(text.includes(m[2]!) && (text.includes(m[1]!) || text.includes('X=')), `bridge ${line} not in the script`);
        }
      } finally {
        install.cleanup();
      }
    }),
    { seed: SEED, numRuns: 60, interruptAfterTimeLimit: 8000 },
  );
});

test.run();
