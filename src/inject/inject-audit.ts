// The audit records of the injecting layer: one per injected request, one when a WebSocket opens,
// one per refusal. They name the secret used, never its value, and the path without its query.

export type InjectAuditRecord =
  | {
      time: string;
      kind: 'injected-request';
      name: string;
      rule: string;
      method: string;
      path: string;
      status: number;
      bytesUp: number;
      bytesDown: number;
      durationMs: number;
      secrets: readonly string[];
    }
  | { time: string; kind: 'websocket-open'; name: string; rule: string; path: string; secrets: readonly string[] }
  | { time: string; kind: 'websocket-close'; name: string; rule: string; tokensInjected: number; bytesUp: number; bytesDown: number; durationMs: number }
  | { time: string; kind: 'inject-refused'; name: string; rule: string; code: string; reason: string };

// The path of a request target without its query (queries may carry data the log should not keep).
export function pathOnly(target: string): string {
  const q = target.indexOf('?');
  return q === -1 ? target : target.slice(0, q);
}
