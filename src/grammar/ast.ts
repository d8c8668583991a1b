// The syntax tree the grammar produces: every piece of text the user wrote, with where it stands.

import type { Span } from '../diagnostics/span.ts';

export type { Span };

/** A token. The parser's nodes (tokens, statements, targets) are their own spans: `span`
 * returns the node, so each costs one object, not two (issue 9); code reads `span` and need not
 * know. A statement's list of options may be a shared, frozen empty one. */
export interface Located<T = string> {
  value: T;
  span: Span;
}

/** `key` alone (`tls`) or `key value` (`max-conn 8`). */
export interface OptionNode {
  key: Located;
  value?: Located;
}

export interface VmStatement {
  kind: 'vm';
  span: Span;
  name: Located;
}

export interface NetworkStatement {
  kind: 'network';
  span: Span;
  mode: Located<'softnet'>;
  options: readonly OptionNode[];
}

export interface TargetNode {
  span: Span;
  /** The host as written, without brackets. */
  host: Located;
  /** Written as `[v6]:port`. */
  bracketed: boolean;
  port: Located;
}

export interface AllowStatement {
  kind: 'allow';
  span: Span;
  name: Located;
  target: TargetNode;
  via: Located;
  port: Located;
  options: readonly OptionNode[];
}

export interface MountStatement {
  kind: 'mount';
  span: Span;
  name: Located;
  /** With quotes removed and escapes resolved. */
  path: Located;
  mode: Located<'ro' | 'rw'>;
  options: readonly OptionNode[];
}

/** `proxy via PORT [max-conn N]`. */
export interface ProxyStatement {
  kind: 'proxy';
  span: Span;
  via: Located;
  port: Located;
  options: readonly OptionNode[];
}

/** `egress NAME HOST[:PORT] …`: each host as written (judged by check-egress-hosts). */
export interface EgressStatement {
  kind: 'egress';
  span: Span;
  name: Located;
  hosts: Located[];
  /** `inject HEADER: TEMPLATE` and `websocket-token TEMPLATE`, in line order (may be a shared empty list). */
  injections: readonly InjectionNode[];
}

/** `inject HEADER: TEMPLATE` (header present) or `websocket-token TEMPLATE`; the template as written, quotes removed. */
export interface InjectionNode {
  key: Located<'inject' | 'websocket-token'>;
  header?: Located;
  template: Located;
}

/** `secret NAME from keychain SERVICE | from command "…" | from file PATH [env VARIABLE]`. */
export interface SecretStatement {
  kind: 'secret';
  span: Span;
  name: Located;
  from: Located<'from'>;
  source: Located<'keychain' | 'command' | 'file'>;
  /** The keychain service, the command line or the path, quotes removed. */
  value: Located;
  options: readonly OptionNode[];
}

/** `snapshot keep N`: how many of enforce's own VM snapshots to keep. */
export interface SnapshotStatement {
  kind: 'snapshot';
  span: Span;
  keep: Located;
  count: Located;
}

export type Statement = VmStatement | NetworkStatement | AllowStatement | MountStatement | SnapshotStatement | ProxyStatement | EgressStatement | SecretStatement;

export interface PolicyAst {
  file: string;
  source: string;
  statements: Statement[];
}
