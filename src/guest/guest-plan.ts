// What `guest install` puts into the VM, as data: the hosts lines, the proxy environment for the
// owner's login shell and for the programs launchd starts, and the trust the proxy needs. Pure:
// the compiled policy and its artifacts in, the files (whole, or a marked block inside a file the
// owner also edits) out; guest-commands.ts turns them into commands, install and check run them.

import type { Artifact } from '../compiler/artifact.ts';
import { hostsEntries } from '../compiler/emit/hosts.ts';
import { proxyEnvironment } from '../compiler/emit/proxy-env.ts';
import { shellQuote } from '../compiler/emit/shell-quote.ts';
import type { Policy } from '../compiler/policy.ts';
import { blockMarkers, type BlockMarkers } from './marked-block.ts';

/** A path in the guest: absolute, or below the home of the user `tart exec` runs as. */
export type GuestPath = { absolute: string } | { home: string };

export interface GuestFile {
  id: 'hosts' | 'proxy-env' | 'login-shell' | 'launch-agent' | 'proxy-ca';
  /** What it is for, in a few words. */
  what: string;
  path: GuestPath;
  /** Only root may write it (the guest command goes through sudo -n unless already root). */
  root: boolean;
  content: { block: BlockMarkers; lines: string[] } | { whole: string; mode: '0644' | '0600' };
}

export interface GuestPlan {
  vm: string;
  files: GuestFile[];
  /** The LaunchAgent to (re)load after writing it, when there is one. */
  launchAgentLabel?: string;
  /** Said once, for what is not installed and why. */
  notes: string[];
}

export const LAUNCH_AGENT_LABEL = 'dev.nanopolicy.proxy-env';
const CONFIG = '.config/nanopolicy';
/** The artifact the credential-injection work emits when the proxy terminates TLS for some names. */
export const PROXY_CA_ARTIFACT = 'proxy-ca.pem';

// The plan for a compiled policy.
export function guestPlan(policy: Policy, artifacts: readonly Artifact[]): GuestPlan {
  const id = `nanopolicy ${policy.vm}`;
  const files: GuestFile[] = [];
  const notes: string[] = [];
  // Why a marked block: /etc/hosts is the owner's file too; appending (the old README's advice)
  // twice gave two copies, and a changed policy left the old lines behind.
  files.push({
    id: 'hosts',
    what: 'hosts lines: TLS bridge names resolve to the gateway',
    path: { absolute: '/etc/hosts' },
    root: true,
    content: { block: blockMarkers(id), lines: hostsEntries(policy).map((e) => `${e.address} ${e.name}`) },
  });
  const proxyEnv = artifacts.find((a) => a.name === 'proxy.env');
  const ca = artifacts.find((a) => a.name === PROXY_CA_ARTIFACT);
  if (!policy.proxy || proxyEnv === undefined) {
    notes.push('The policy lists no egress: no proxy environment is installed (the VM reaches no name by HTTPS).');
    return { vm: policy.vm, files, notes };
  }
  const envFile = `${CONFIG}/proxy.env`;
  files.push({ id: 'proxy-env', what: 'proxy environment (HTTPS_PROXY …)', path: { home: envFile }, root: false, content: { whole: proxyEnv.content, mode: '0644' } });
  const caFile = `${CONFIG}/${PROXY_CA_ARTIFACT}`;
  // The seam for credential injection: only when compile emitted the proxy's CA does the guest
  // learn to trust it (Node through NODE_EXTRA_CA_CERTS, which adds to the built-in roots rather
  // than replacing them as SSL_CERT_FILE would). Keychain trust for macOS apps is not done here.
  if (ca !== undefined) files.push({ id: 'proxy-ca', what: "the egress proxy's CA certificate", path: { home: caFile }, root: false, content: { whole: ca.content, mode: '0644' } });
  else notes.push(`The compiled output has no ${PROXY_CA_ARTIFACT}: no CA is installed (the proxy terminates no TLS).`);
  const shellLines = [`[ -r "$HOME/${envFile}" ] && { set -a; . "$HOME/${envFile}"; set +a; }`];
  if (ca !== undefined) shellLines.push(`export NODE_EXTRA_CA_CERTS="$HOME/${caFile}"`);
  files.push({ id: 'login-shell', what: 'login shells read the proxy environment (~/.zprofile)', path: { home: '.zprofile' }, root: false, content: { block: blockMarkers(id), lines: shellLines } });
  const variables: Array<[string, string]> = [...proxyEnvironment(policy)];
  files.push({
    id: 'launch-agent',
    what: 'programs launchd starts get the proxy environment (LaunchAgent)',
    path: { home: `Library/LaunchAgents/${LAUNCH_AGENT_LABEL}.plist` },
    root: false,
    content: { whole: launchAgentPlist(policy, variables, ca !== undefined ? caFile : undefined), mode: '0644' },
  });
  return { vm: policy.vm, files, launchAgentLabel: LAUNCH_AGENT_LABEL, notes };
}

// A LaunchAgent that sets the variables in the user's launchd domain at every login: programs
// launchd starts afterwards (the NanoClaw agent among them) inherit them; launchctl setenv does
// not survive a logout, hence RunAtLoad.
function launchAgentPlist(policy: Policy, variables: ReadonlyArray<[string, string]>, caFile: string | undefined): string {
  const set = variables.map(([k, v]) => `launchctl setenv ${k} ${shellQuote(v)}`);
  if (caFile !== undefined) set.push(`launchctl setenv NODE_EXTRA_CA_CERTS "$HOME/${caFile}"`);
  const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    `<!-- written by "nanopolicy guest install" for the VM "${xml(policy.vm)}" (policy sha256 ${policy.source.sha256}); do not edit -->`,
    '<plist version="1.0">',
    '<dict>',
    '\t<key>Label</key>',
    `\t<string>${LAUNCH_AGENT_LABEL}</string>`,
    '\t<key>ProgramArguments</key>',
    '\t<array>',
    '\t\t<string>/bin/sh</string>',
    '\t\t<string>-c</string>',
    `\t\t<string>${xml(set.join('; '))}</string>`,
    '\t</array>',
    '\t<key>RunAtLoad</key>',
    '\t<true/>',
    '</dict>',
    '</plist>',
    '',
  ].join('\n');
}
