import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { emitArtifacts } from '../../../src/compiler/emit/index.ts';
import { printable } from '../../../src/compiler/emit/header.ts';
import { bundledPolicy, CASES } from './sample-policy.ts';

const header = suite('artifact headers and file checks');

header('a policy file name cannot break out of a comment line', () => {
  const base = bundledPolicy();
  const policy = { ...base, source: { ...base.source, file: 'evil\nrm -rf ~\r.policy' } };
  assert.is(printable(policy.source.file), 'evil\\x0arm -rf ~\\x0d.policy');
  for (const a of emitArtifacts(policy)) {
    if (a.name.endsWith('.json')) continue;
    assert.not.ok(a.content.split('\n').some((line) => line.startsWith('rm -rf')), a.name);
  }
});

// visudo is not one of the project's required tools, so without it this test only says so.
header('visudo accepts every sudoers file', () => {
  if (spawnSync('visudo', ['-V']).error) return console.log('  (visudo not installed: sudoers syntax not checked)');
  const dir = mkdtempSync(join(tmpdir(), 'np-sudoers-'));
  try {
    for (const [name, build] of Object.entries(CASES)) {
      const file = join(dir, name);
      writeFileSync(file, emitArtifacts(build()).find((a) => a.name === 'sudoers')!.content);
      const result = spawnSync('visudo', ['-c', '-f', file], { encoding: 'utf8' });
      assert.is(result.status, 0, `${name}: ${result.stdout}${result.stderr}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

header.run();
