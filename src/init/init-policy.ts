// `nanopolicy init`: read a NanoClaw install and write the policy for it — findings, rendering and
// the compiler's check, in that order. Reads only; the CLI writes the file.

import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { parseMountAllowlist } from './read-mount-allowlist.ts';
import { renderPolicy, type AllowlistInput } from './render-policy.ts';
import { scanInstall, MAX_SCRIPT_BYTES, type ReadBounded } from './scan-install.ts';
import { settleWithCheck } from './settle-with-check.ts';
import { visible } from './visible-text.ts';

export interface InitInput {
  /** The install folder (absolute). */
  from: string;
  home: string;
  vm: string;
  /** NanoClaw's allowlist file (absolute). */
  allowlistFile: string;
  /** Where the policy will be written (absolute), or undefined for stdout. */
  output?: string;
  snapshots?: number;
  /** Tests only: how files of the install are read. */
  read?: ReadBounded;
}

export interface InitResult {
  policy: string;
  warnings: string[];
  found: { bridges: number; mounts: number; envKeys: string[]; scriptsRead: number };
}

export class InitInputError extends Error {}

// Builds the policy text for the install; throws InitInputError when the install cannot be read.
export function initPolicy(input: InitInput): InitResult {
  let findings;
  try {
    findings = scanInstall(input.from, input.read);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InitInputError(code === 'ENOENT' ? `There is no NanoClaw install at "${visible(input.from)}".` : `Cannot read the install at "${visible(input.from)}": ${code ?? (error as Error).message}.`);
  }
  const allowlist = readAllowlist(input.allowlistFile, input.home);
  const rendered = renderPolicy({ findings, allowlist, vm: input.vm, home: input.home, snapshots: input.snapshots ?? 3 });
  const output = input.output ?? resolve(input.home, '.config/nanopolicy/nanoclaw.policy');
  const settled = settleWithCheck(rendered.lines, { file: basename(output), cwd: dirname(output), home: input.home });
  const statements = settled.text.split('\n');
  return {
    policy: settled.text,
    warnings: [...new Set([...findings.warnings, ...rendered.warnings, ...settled.warnings])],
    found: {
      bridges: statements.filter((l) => l.startsWith('allow ')).length,
      mounts: statements.filter((l) => l.startsWith('mount ')).length,
      envKeys: findings.envKeys ?? [],
      scriptsRead: findings.scriptsRead,
    },
  };
}

function readAllowlist(file: string, home: string): AllowlistInput {
  const shown = file.startsWith(`${home}/`) ? `~${file.slice(home.length)}` : file;
  let text: string;
  try {
    if (statSync(file).size > MAX_SCRIPT_BYTES) return { shown, problem: 'it is larger than 1 MiB' };
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? { shown } : { shown, problem: `it could not be read (${code ?? 'error'})` };
  }
  const list = parseMountAllowlist(text);
  return typeof list === 'string' ? { shown, problem: list } : { shown, list };
}
