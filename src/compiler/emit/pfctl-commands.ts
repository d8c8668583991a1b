// The exact pfctl argument lists enforce runs (after `sudo -n /sbin/pfctl`). The sudoers
// artifact allows exactly these, so enforce must build its commands here, not by hand.

import type { Policy } from '../policy.ts';
import { anchorName } from '../policy.ts';
import { NANOPOLICY_ANCHOR } from '../../formats/pf-anchor-name.ts';

export const PFCTL = '/sbin/pfctl';

/** Interface names the `-D vm_if=` commands accept (and sudoers allows): vmnet's bridges. */
export const PF_VM_IF = /^bridge[0-9]{1,3}$/;

/** pf reference tokens from `pfctl -E` are unsigned 64-bit decimals. */
export const PF_TOKEN = /^[0-9]{1,20}$/;

export interface PfctlCommands {
  /** Replace our anchor with the rules read from stdin. */
  load: string[];
  /** The same, with the VM's interface for the `vm_if` macro. */
  loadWithInterface(vmIf: string): string[];
  /** Parse the ruleset read from stdin without loading it. */
  check: string[];
  checkWithInterface(vmIf: string): string[];
  /** Remove every rule of our anchor (and only of it). */
  flush: string[];
  /** Print our anchor's rules. */
  showAnchorRules: string[];
  /** Print our anchor's rules with their counters: verify's evidence that probes met the rules. */
  showAnchorCounters: string[];
  /** Print the main ruleset, to see that `anchor "com.apple/*"` is still there. */
  showMainRules: string[];
  /** Print pf's interfaces with their flags: verify looks for `(skip)` on the VM's bridge. */
  showInterfaces: string[];
  /** List the anchors under com.apple/ ("  com.apple/NAME" lines), to find another VM's cage. */
  listAppleAnchors: string[];
  /** Print another VM's nanopolicy anchor (its own sudoers file allows exactly this). */
  showRulesOf(anchor: string): string[];
  /** pf status: "Status: Enabled". */
  info: string[];
  /** Take a reference on pf being enabled; prints a token. */
  enable: string[];
  /** Give that reference back; pf stops only when no reference is left. */
  release(token: string): string[];
  /** Kill states from the VM subnet, so connections opened under older rules do not survive. */
  killStates: string[];
}

// Every pfctl command line enforce needs for this policy.
export function pfctlCommands(policy: Policy): PfctlCommands {
  const anchor = anchorName(policy);
  const define = (vmIf: string): string[] => {
    if (!PF_VM_IF.test(vmIf)) throw new Error(`"${vmIf}" is not a vmnet bridge interface (bridgeN).`);
    return ['-D', `vm_if=${vmIf}`];
  };
  return {
    load: ['-a', anchor, '-f', '-'],
    loadWithInterface: (vmIf) => ['-a', anchor, ...define(vmIf), '-f', '-'],
    check: ['-n', '-f', '-'],
    checkWithInterface: (vmIf) => ['-n', ...define(vmIf), '-f', '-'],
    flush: ['-a', anchor, '-F', 'all'],
    showAnchorRules: ['-a', anchor, '-sr'],
    showAnchorCounters: ['-a', anchor, '-v', '-sr'],
    showMainRules: ['-sr'],
    showInterfaces: ['-s', 'Interfaces', '-v'],
    listAppleAnchors: ['-a', 'com.apple', '-s', 'Anchors'],
    showRulesOf: (other) => {
      if (!NANOPOLICY_ANCHOR.test(other)) throw new Error(`"${other}" is not a nanopolicy anchor.`);
      return ['-a', other, '-sr'];
    },
    info: ['-s', 'info'],
    enable: ['-E'],
    release: (token) => {
      if (!PF_TOKEN.test(token)) throw new Error(`"${token}" is not a pf reference token.`);
      return ['-X', token];
    },
    killStates: ['-k', policy.network.subnet],
  };
}
