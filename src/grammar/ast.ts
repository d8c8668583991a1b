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
}

/** `snapshot keep N`: how many of enforce's own VM snapshots to keep. */
export interface SnapshotStatement {
  kind: 'snapshot';
  span: Span;
  keep: Located;
  count: Located;
}

export type Statement = VmStatement | NetworkStatement | AllowStatement | MountStatement | SnapshotStatement | ProxyStatement | EgressStatement;

export interface PolicyAst {
  file: string;
  source: string;
  statements: Statement[];
}
