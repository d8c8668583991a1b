// The server side of an injected tunnel (sans-io): fed the upstream's bytes, it returns what the VM
// may receive — each response head and body with every form of the secret masked (a chunked body
// is decoded, masked and chunked again, so a secret split across chunks is still found), the end of
// each response for the audit record, and the bytes after a WebSocket's 101. Bodies are passed on
// as they arrive: nothing is buffered but a tail that could still become a secret.

import { hasBareCrOrLf, headerValues, parseHeaderLines, printable } from './header-lines.ts';
import { refusal, type Refusal } from './refusal.ts';
import { SecretScrubber } from './secret-scrubber.ts';

export type ResponseEvent =
  | { type: 'head'; status: number; data: Buffer }
  | { type: 'body'; data: Buffer }
  /** The response is complete; `close`: the server ends the connection after it. */
  | { type: 'end'; status: number; close: boolean }
  | { type: 'upgraded'; data: Buffer }
  | Refusal;

type Body = { kind: 'none' } | { kind: 'length'; left: number } | { kind: 'chunked' } | { kind: 'close' };
type State =
  | { at: 'head' }
  | { at: 'length'; left: number }
  | { at: 'chunk-size' }
  | { at: 'chunk-data'; left: number }
  | { at: 'chunk-data-end' }
  | { at: 'trailer' }
  | { at: 'until-close' }
  | { at: 'upgraded' }
  | { at: 'done' };

export class ResponseReader {
  private state: State = { at: 'head' };
  private pending: Buffer = Buffer.alloc(0);
  private readonly methods: Array<{ method: string; websocket: boolean }> = [];
  private current: { status: number; close: boolean } = { status: 0, close: false };
  private scrubber: SecretScrubber;

  constructor(
    private readonly needles: readonly Buffer[],
    private readonly maxHeadBytes = 65536,
  ) {
    this.scrubber = new SecretScrubber(needles);
  }

  // Tells the reader a request went upstream (responses come in request order).
  expect(method: string, websocket: boolean): void {
    this.methods.push({ method, websocket });
  }

  push(chunk: Buffer): ResponseEvent[] {
    const events: ResponseEvent[] = [];
    if (this.state.at === 'done') return events;
    if (this.state.at === 'upgraded') return [{ type: 'upgraded', data: chunk }];
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    for (;;) {
      const progress = this.step(events);
      const at = (this.state as State).at;
      if (at === 'done') return events;
      if (at === 'upgraded') {
        if (this.pending.length) events.push({ type: 'upgraded', data: this.pending });
        this.pending = Buffer.alloc(0);
        return events;
      }
      if (!progress) return events;
    }
  }

  // The upstream closed: ends a body read until close; a response cut short is a refusal.
  close(): ResponseEvent[] {
    if (this.state.at === 'until-close') {
      const rest = this.scrubber.flush();
      this.state = { at: 'done' };
      return [...(rest.length ? [{ type: 'body' as const, data: rest }] : []), { type: 'end', status: this.current.status, close: true }];
    }
    if (this.state.at === 'head' && this.pending.length === 0) return [];
    if (this.state.at === 'done' || this.state.at === 'upgraded') return [];
    this.state = { at: 'done' };
    return [refusal('bad-response', 'the server closed the connection in the middle of a response')];
  }

  // One step: pushes events; false when it needs more bytes.
  private step(events: ResponseEvent[]): boolean {
    const state = this.state;
    switch (state.at) {
      case 'head':
        return this.readHead(events);
      case 'length': {
        if (this.pending.length === 0) return false;
        const take = Math.min(state.left, this.pending.length);
        this.emitBody(events, this.pending.subarray(0, take), false);
        this.pending = this.pending.subarray(take);
        if (take === state.left) this.finish(events, this.scrubber.flush());
        else this.state = { at: 'length', left: state.left - take };
        return true;
      }
      case 'until-close': {
        if (this.pending.length === 0) return false;
        this.emitBody(events, this.pending, false);
        this.pending = Buffer.alloc(0);
        return false;
      }
      case 'chunk-size': {
        const line = this.line(events);
        if (line === undefined) return false;
        const match = /^([0-9A-Fa-f]{1,12})(;[\x20-\x7e\t]*)?$/.exec(line);
        if (!match) return this.refuse(events, `"${printable(line)}" is not a chunk size`);
        const size = parseInt(match[1]!, 16);
        this.state = size === 0 ? { at: 'trailer' } : { at: 'chunk-data', left: size };
        return true;
      }
      case 'chunk-data': {
        if (this.pending.length === 0) return false;
        const take = Math.min(state.left, this.pending.length);
        this.emitBody(events, this.pending.subarray(0, take), true);
        this.pending = this.pending.subarray(take);
        this.state = take === state.left ? { at: 'chunk-data-end' } : { at: 'chunk-data', left: state.left - take };
        return true;
      }
      case 'chunk-data-end': {
        if (this.pending.length < 2) return false;
        if (this.pending[0] !== 0x0d || this.pending[1] !== 0x0a) return this.refuse(events, 'a chunk does not end where its size says');
        this.pending = this.pending.subarray(2);
        this.state = { at: 'chunk-size' };
        return true;
      }
      case 'trailer': {
        const line = this.line(events);
        if (line === undefined) return false;
        // Trailer fields are dropped: they are headers after the body, unmasked and rarely used.
        if (line !== '') return true;
        const rest = this.scrubber.flush();
        this.finish(events, Buffer.concat([rest.length ? chunkOf(rest) : Buffer.alloc(0), Buffer.from('0\r\n\r\n')]));
        return true;
      }
      default:
        return false;
    }
  }

  private readHead(events: ResponseEvent[]): boolean {
    if (this.pending.length === 0) return false;
    const end = this.pending.indexOf('\r\n\r\n');
    if (end === -1) return this.pending.length > this.maxHeadBytes ? this.refuse(events, 'the response head is too large') : false;
    const text = this.pending.subarray(0, end).toString('latin1');
    this.pending = this.pending.subarray(end + 4);
    if (hasBareCrOrLf(text)) return this.refuse(events, 'the response head holds a bare CR or LF');
    const lines = text.split('\r\n');
    const status = /^HTTP\/1\.[01] ([1-5][0-9][0-9])(?: [\x20-\x7e\t\x80-\xff]*)?$/.exec(lines[0]!);
    if (!status) return this.refuse(events, `the status line "${printable(lines[0]!)}" is not HTTP/1.1`);
    const code = Number(status[1]);
    const headers = parseHeaderLines(lines.slice(1));
    if ('type' in headers) return this.refuse(events, headers.reason);
    const request = this.methods[0];
    if (!request) return this.refuse(events, 'the server answered a request that was not sent');
    // The head goes out masked (a reflected secret may sit in any header); it is complete, so a
    // scrubber of its own leaves nothing held back.
    const headScrubber = new SecretScrubber(this.needles);
    const head = Buffer.concat([headScrubber.push(Buffer.from(`${text}\r\n\r\n`, 'latin1')), headScrubber.flush()]);
    const connection = headerValues(headers, 'connection').join(',').toLowerCase();
    this.current = { status: code, close: /(^|,)\s*close\s*(,|$)/.test(connection) };
    if (code !== 101) events.push({ type: 'head', status: code, data: head });
    if (code === 101) {
      if (!request.websocket) return this.refuse(events, 'the server switched protocols unasked');
      // No extension was offered; one accepted anyway (permessage-deflate) would compress frames
      // the rewriter and the scrubber must read.
      if (headerValues(headers, 'sec-websocket-extensions').length > 0) return this.refuse(events, 'the server accepted a WebSocket extension no one offered');
      this.methods.shift();
      events.push({ type: 'head', status: code, data: head });
      this.state = { at: 'upgraded' };
      return true;
    }
    // Other 1xx: an interim answer; the real response to the same request follows.
    if (code < 200) return true;
    this.methods.shift();
    const encodings = headerValues(headers, 'content-encoding').join(',').toLowerCase().split(',').map((e) => e.trim()).filter((e) => e && e !== 'identity');
    const body = this.bodyOf(request.method, code, headers);
    if (typeof body === 'string') return this.refuse(events, body);
    // Why refused: a compressed body could carry the secret where the scrubber cannot see it; the
    // proxy asked for identity, and a server that ignores that gets no pass.
    if (encodings.length > 0 && body.kind !== 'none') {
      events.push(refusal('encoded-response', `the server sent a "${printable(encodings.join(', '))}" body, which the proxy cannot search for the secret`));
      this.state = { at: 'done' };
      return false;
    }
    this.scrubber = new SecretScrubber(this.needles);
    if (body.kind === 'none' || (body.kind === 'length' && body.left === 0)) this.finish(events, Buffer.alloc(0));
    else if (body.kind === 'length') this.state = { at: 'length', left: body.left };
    else if (body.kind === 'chunked') this.state = { at: 'chunk-size' };
    else this.state = { at: 'until-close' };
    return true;
  }

  // How the body is framed (RFC 9112 §6.3), or why it cannot be known.
  private bodyOf(method: string, status: number, headers: Array<[string, string]>): Body | string {
    if (method === 'HEAD' || status === 204 || status === 304) return { kind: 'none' };
    const te = headerValues(headers, 'transfer-encoding');
    const cl = headerValues(headers, 'content-length');
    if (te.length > 0 && cl.length > 0) return 'the response has both Content-Length and Transfer-Encoding';
    if (te.length > 0) return te.length === 1 && te[0]!.toLowerCase() === 'chunked' ? { kind: 'chunked' } : `the response's Transfer-Encoding "${printable(te.join(', '))}" is not "chunked"`;
    if (cl.length > 1) return 'the response has two Content-Length headers';
    if (cl.length === 1) return /^[0-9]{1,15}$/.test(cl[0]!) ? { kind: 'length', left: Number(cl[0]) } : 'the response\'s Content-Length is not a number';
    return { kind: 'close' };
  }

  // Masks body bytes and emits what can go now (as a chunk of its own when re-chunking).
  private emitBody(events: ResponseEvent[], data: Buffer, chunked: boolean): void {
    const out = this.scrubber.push(data);
    if (out.length) events.push({ type: 'body', data: chunked ? chunkOf(out) : out });
  }

  // Emits the last bytes and the end; the next response (or nothing, after a close) follows.
  private finish(events: ResponseEvent[], last: Buffer): void {
    if (last.length) events.push({ type: 'body', data: last });
    events.push({ type: 'end', status: this.current.status, close: this.current.close });
    this.state = this.current.close ? { at: 'done' } : { at: 'head' };
  }

  private refuse(events: ResponseEvent[], reason: string): boolean {
    events.push(refusal('bad-response', reason));
    this.state = { at: 'done' };
    return false;
  }

  // One CRLF-ended line of the chunked framing, or undefined until it is complete.
  private line(events: ResponseEvent[]): string | undefined {
    const end = this.pending.indexOf('\r\n');
    if (end === -1) {
      if (this.pending.length > 4096) this.refuse(events, 'a chunk line is too long');
      return undefined;
    }
    const text = this.pending.subarray(0, end).toString('latin1');
    this.pending = this.pending.subarray(end + 2);
    return text;
  }
}

// One chunk of chunked framing around `data`.
function chunkOf(data: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]);
}
