// Why the injecting layer refused a connection: a stable code for the audit record and one
// sentence for the owner. A refusal ends the connection; the secret is never added after one.

export type RefusalCode =
  | 'http2-preface'
  | 'bad-request-line'
  | 'bare-cr-lf'
  | 'obs-fold'
  | 'bad-header'
  | 'head-too-large'
  | 'cl-and-te'
  | 'two-content-lengths'
  | 'bad-content-length'
  | 'bad-transfer-encoding'
  | 'bad-chunk'
  | 'trailers'
  | 'host-missing'
  | 'host-mismatch'
  | 'absolute-form-other-host'
  | 'bad-target'
  | 'bad-upgrade'
  | 'bad-response'
  | 'encoded-response';

export interface Refusal {
  type: 'refuse';
  code: RefusalCode;
  reason: string;
}

export function refusal(code: RefusalCode, reason: string): Refusal {
  return { type: 'refuse', code, reason };
}
