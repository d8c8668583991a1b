// launchd.plist: a LaunchDaemon that re-applies the policy at boot, since nothing in pf survives
// a reboot (domain.md §4b).

import type { Policy } from '../policy.ts';
import { assertVmName, UnexpressibleError } from './expressible.ts';
import { headerLines, printable } from './header.ts';

export const DEFAULT_PROGRAM = '/usr/local/bin/nanopolicy';

export interface LaunchdOptions {
  /** Absolute path of the nanopolicy program; default /usr/local/bin/nanopolicy. */
  program?: string;
}

// The daemon's launchd label, also the plist's file name under /Library/LaunchDaemons.
export function launchdLabel(policy: Pick<Policy, 'vm'>): string {
  return `dev.nanopolicy.${policy.vm}`;
}

// Where the daemon's output goes: the owner's own logs, since the daemon runs as the owner.
export function launchdLogPath(policy: Pick<Policy, 'vm' | 'owner'>): string {
  return `${policy.owner.home}/Library/Logs/nanopolicy-${policy.vm}.log`;
}

// The argv launchd runs.
export function launchdProgramArguments(policy: Policy, options: LaunchdOptions = {}): string[] {
  const program = options.program ?? DEFAULT_PROGRAM;
  if (!program.startsWith('/')) throw new Error(`The program path "${program}" must be absolute: launchd has no useful PATH.`);
  const argv = [program, 'enforce', '--supervise', policy.source.absolutePath];
  // XML 1.0 cannot hold control characters at all, not even escaped.
  const bad = argv.find((a) => /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(a));
  if (bad !== undefined) throw new UnexpressibleError(`The path "${printable(bad)}" holds control characters a plist cannot hold.`);
  return argv;
}

// Escapes text for an XML element.
function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

// Makes text safe inside an XML comment, where "--" may not appear.
function xmlComment(text: string): string {
  return text.replace(/-(?=-)/g, '- ').replace(/-$/, '- ');
}

// The plist's text.
export function emitLaunchdPlist(policy: Policy, options: LaunchdOptions = {}): string {
  assertVmName(policy);
  const label = launchdLabel(policy);
  const log = launchdLogPath(policy);
  const comment = [
    ...headerLines(policy),
    '',
    `Install: sudo cp launchd.plist /Library/LaunchDaemons/${label}.plist`,
    `         sudo launchctl bootstrap system /Library/LaunchDaemons/${label}.plist`,
    '',
    'KeepAlive restarts the supervisor only when it exits with a failure (after ThrottleInterval);',
    'a clean exit (the owner stopped it) stays stopped. The pf anchor stays loaded in the kernel',
    'while the supervisor is down, so a crash leaves the VM caged, not open.',
    'PATH: launchd starts daemons with a minimal PATH; nanopolicy needs node, which Homebrew puts',
    'in /opt/homebrew/bin or /usr/local/bin.',
    `UserName ${policy.owner.user}, HOME ${policy.owner.home}: tart finds the VM in its owner's ~/.tart, and`,
    'enforce reaches pfctl through the sudoers lines compiled beside this file, not as root.',
  ];
  const args = launchdProgramArguments(policy, options).map((a) => `\t\t<string>${xml(a)}</string>`);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<!--',
    ...comment.map((line) => (line ? `  ${xmlComment(line)}` : '')),
    '-->',
    '<plist version="1.0">',
    '<dict>',
    '\t<key>Label</key>',
    `\t<string>${xml(label)}</string>`,
    '\t<key>ProgramArguments</key>',
    '\t<array>',
    ...args,
    '\t</array>',
    '\t<key>UserName</key>',
    `\t<string>${xml(policy.owner.user)}</string>`,
    '\t<key>EnvironmentVariables</key>',
    '\t<dict>',
    '\t\t<key>HOME</key>',
    `\t\t<string>${xml(policy.owner.home)}</string>`,
    '\t\t<key>PATH</key>',
    '\t\t<string>/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin</string>',
    '\t</dict>',
    '\t<key>RunAtLoad</key>',
    '\t<true/>',
    '\t<key>KeepAlive</key>',
    '\t<dict>',
    '\t\t<key>SuccessfulExit</key>',
    '\t\t<false/>',
    '\t</dict>',
    '\t<key>ThrottleInterval</key>',
    '\t<integer>30</integer>',
    '\t<key>StandardOutPath</key>',
    `\t<string>${xml(log)}</string>`,
    '\t<key>StandardErrorPath</key>',
    `\t<string>${xml(log)}</string>`,
    '</dict>',
    '</plist>',
    '',
  ].join('\n');
}
