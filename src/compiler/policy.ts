// The checked policy: what every emitter, `enforce` and `verify` work from. Built only by
// lower-policy.ts after every check passed, and frozen there.

import type { Span } from '../grammar/ast.ts';
import type { TemplatePart } from '../formats/header-template.ts';
import type { SecretSource } from '../formats/secret-source.ts';

export type { SecretSource } from '../formats/secret-source.ts';

export interface PolicySource {
  /** The path as the user gave it, with "/" separators: what headers print. */
  file: string;
  /** Absolute path of the policy file on this host. */
  absolutePath: string;
  /** sha256 of the policy's bytes, lowercase hex. */
  sha256: string;
}

export interface Network {
  mode: 'softnet';
  /** Network address of the VM subnet, e.g. "192.168.64.0". */
  subnetAddress: string;
  prefix: number;
  /** "192.168.64.0/24". */
  subnet: string;
  /** The host's address on the VM bridge, e.g. "192.168.64.1". */
  gateway: string;
}

export type TargetKind = 'dns' | 'ipv4' | 'ipv6';

export interface Bridge {
  name: string;
  target: {
    kind: TargetKind;
    /** Host name (lowercase), dotted IPv4, or IPv6 without brackets (canonical form). */
    host: string;
    port: number;
  };
  /** The port socat listens on at the gateway address. */
  listen: number;
  tls: boolean;
  /** socat max-children: a hostile VM must not fork unbounded host processes. */
  maxConnections: number;
  /** "sha256/BASE64" of the server's SubjectPublicKeyInfo, if the policy pins one. */
  pin?: string;
  span: Span;
}

export type MountMode = 'ro' | 'rw';

export interface Mount {
  name: string;
  /** Absolute host path, `~` expanded against the compiling user's home. */
  path: string;
  /** As written in the policy. */
  written: string;
  mode: MountMode;
  /** The line says `allow-sensitive`: the owner knowingly shares a sensitive folder. */
  allowSensitive: boolean;
  span: Span;
}

/** One name (or "*.suffix") and port an egress rule allows through the proxy. */
export interface EgressHost {
  /** Lowercase, no trailing dot; "*.suffix" matches names strictly below suffix. */
  host: string;
  wildcard: boolean;
  port: number;
}

/** `egress NAME HOST[:PORT] …`: names the VM may reach by name, through the proxy on the gateway. */
export interface EgressRule {
  name: string;
  /** In line order. */
  hosts: readonly EgressHost[];
  /** `inject HEADER: TEMPLATE`, in line order; absent when the line injects nothing. */
  inject?: readonly HeaderInjection[];
  /** `websocket-token {secret}`: the secret put into the gateway's IDENTIFY and RESUME frames. */
  websocketToken?: string;
  span: Span;
}

/** A request header the proxy sets (replacing any the client sent) on every request to the rule's names. */
export interface HeaderInjection {
  /** Lowercase. */
  header: string;
  template: readonly TemplatePart[];
}

/** `secret NAME from …`: a credential the VM never holds; it sees `placeholder` instead. */
export interface Secret {
  name: string;
  source: SecretSource;
  /** The variable proxy.env sets to the placeholder (`env ANTHROPIC_API_KEY`), if the line names one. */
  env?: string;
  placeholder: string;
  span: Span;
}

/** The egress proxy on the gateway: present exactly when the policy lists egress. */
export interface ProxyListen {
  /** The port it listens on at the gateway address. */
  listen: number;
  maxConnections: number;
}

/** `snapshot keep N`: enforce clones the stopped VM before each start and keeps the newest N. */
export interface Snapshots {
  keep: number;
  span: Span;
}

/** The host user the policy was compiled for: "~" meant their home, and they own the VM. */
export interface Owner {
  user: string;
  home: string;
}

export interface Policy {
  source: PolicySource;
  owner: Owner;
  vm: string;
  network: Network;
  /** In policy order. */
  bridges: readonly Bridge[];
  /** In policy order. */
  mounts: readonly Mount[];
  /** Set when `egress` is listed: the proxy enforce starts on the gateway. */
  proxy?: ProxyListen;
  /** In policy order. */
  egress: readonly EgressRule[];
  /** In policy order; empty when nothing is injected. */
  secrets: readonly Secret[];
  /** Absent: enforce takes no snapshots. */
  snapshots?: Snapshots;
}

export const DEFAULT_SUBNET = '192.168.64.0/24';
export const DEFAULT_GATEWAY = '192.168.64.1';
export const DEFAULT_MAX_CONNECTIONS = 32;
export const DEFAULT_PROXY_PORT = 13128;
export const DEFAULT_PROXY_MAX_CONNECTIONS = 64;
export const MAX_PROXY_CONNECTIONS = 1024;
/** Where tart's default share tag puts shares on a macOS guest (domain.md §2). */
export const SHARES_ROOT = '/Volumes/My Shared Files';

// The pf anchor's path: directly under com.apple/ (evaluated by the stock pf.conf), and sorting
// before Apple's own anchors there (200.AirDrop, 250.ApplicationFirewall).
export function anchorName(policy: Pick<Policy, 'vm'>): string {
  return `com.apple/100.nanopolicy.${policy.vm}`;
}
