// The boot job: its plist installed, loaded in launchd's system domain, and naming a program that
// exists and may be run. A job pointing at a program that is gone fails at every boot, silently.

import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import type { CommandRunner } from '../host/command-runner.ts';
import { cmd } from '../host/command.ts';
import type { DoctorRow } from './doctor-row.ts';

export interface LaunchdFacts {
  label: string;
  /** Where the README installs it. */
  plistPath: string;
}

export async function launchdRow(facts: LaunchdFacts, runner: CommandRunner, read: (p: string) => string = (p) => readFileSync(p, 'utf8')): Promise<DoctorRow> {
  const what = `the boot job ${facts.label} is installed, loaded and names an existing program`;
  const install = `sudo cp OUT/launchd.plist ${facts.plistPath} && sudo launchctl bootstrap system ${facts.plistPath}`;
  let plist: string;
  try {
    plist = read(facts.plistPath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT'
      ? { id: 'launchd', what, status: 'warn', detail: `${facts.plistPath} is not installed: after a reboot nothing cages the VM until you run enforce`, fix: install }
      : { id: 'launchd', what, status: 'unknown', detail: `${facts.plistPath} could not be read (${code ?? 'error'})`, fix: `ls -l ${facts.plistPath}` };
  }
  const program = /<key>ProgramArguments<\/key>\s*<array>\s*<string>([^<]*)<\/string>/.exec(plist)?.[1]?.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>');
  if (program === undefined) return { id: 'launchd', what, status: 'fail', detail: `${facts.plistPath} names no program`, fix: install };
  const runnable = isRunnable(program);
  if (runnable !== undefined) return { id: 'launchd', what, status: 'fail', detail: `the job runs "${program}", which ${runnable}`, fix: `Compile again with the nanopolicy you run now (or --program PATH), then: ${install}` };
  const r = await runner.run(cmd('launchctl', 'print', `system/${facts.label}`));
  if (r.exitCode === 127) return { id: 'launchd', what, status: 'unknown', detail: (r.stderr.trim().split('\n')[0] ?? 'launchctl is missing'), fix: 'Run doctor on the Mac.' };
  if (r.exitCode !== 0) return { id: 'launchd', what, status: 'fail', detail: `installed but not loaded (launchctl print system/${facts.label} found nothing)`, fix: `sudo launchctl bootstrap system ${facts.plistPath}` };
  return { id: 'launchd', what, status: 'ok', detail: `loaded; runs ${program}` };
}

// Why `path` cannot be run, or undefined when it can.
function isRunnable(path: string): string | undefined {
  try {
    if (!statSync(path).isFile()) return 'is not a file';
    accessSync(path, constants.X_OK);
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'may not be run';
  }
}
