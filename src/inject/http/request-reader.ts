// The client side of an injected tunnel as a state machine (sans-io, after mitmproxy's layers):
// fed the bytes the VM sends, it returns events — a request head, body bytes exactly as framed,
// the end of a request, the bytes after a WebSocket handshake, or a refusal that ends it all.
// Requests may follow each other on one connection (keep-alive, pipelining).

import { hasBareCrOrLf, printable } from './header-lines.ts';
import { parseRequestHead, type RequestHead, type Tunnel } from './request-head.ts';
import { refusal, type Refusal } from './refusal.ts';

export type RequestEvent =
  | { type: 'head'; head: RequestHead }
  | { type: 'body'; data: Buffer }
  | { type: 'end' }
  /** Bytes after a WebSocket handshake's head: frames, for the WebSocket layer. */
  | { type: 'upgraded'; data: Buffer }
  | Refusal;

const HTTP2_PREFACE = 'PRI * HTTP/2.0\r\n';
const MAX_CHUNK_LINE = 1024;

type State =
  | { at: 'head' }
  | { at: 'length'; left: number }
  | { at: 'chunk-size' }
  | { at: 'chunk-data'; left: number }
  | { at: 'chunk-data-end' }
  | { at: 'trailer' }
  | { at: 'upgraded' }
  | { at: 'refused' };

export class RequestReader {
  private state: State = { at: 'head' };
  private pending: Buffer = Buffer.alloc(0);

  constructor(
    private readonly tunnel: Tunnel,
    private readonly maxHeadBytes = 65536,
  ) {}

  // Feeds bytes from the VM; returns what they complete, in order.
  push(chunk: Buffer): RequestEvent[] {
    const events: RequestEvent[] = [];
    if (this.state.at === 'refused') return events;
    if (this.state.at === 'upgraded') return chunk.length ? [{ type: 'upgraded', data: chunk }] : events;
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    for (;;) {
      const before = this.pending.length;
      const stateBefore: State['at'] = this.state.at;
      const event = this.step();
      if (event) {
        events.push(event);
        if (event.type === 'refuse') {
          this.state = { at: 'refused' };
          this.pending = Buffer.alloc(0);
          return events;
        }
      }
      if ((this.state as State).at === 'upgraded') {
        if (this.pending.length) events.push({ type: 'upgraded', data: this.pending });
        this.pending = Buffer.alloc(0);
        return events;
      }
      if (!event && this.pending.length === before && this.state.at === stateBefore) return events;
    }
  }

  // Whether the reader sits between requests (nothing half-read): a close here loses nothing.
  idle(): boolean {
    return this.state.at === 'head' && this.pending.length === 0;
  }

  // One step of the state machine over `pending`: an event, or progress, or nothing (needs more).
  private step(): RequestEvent | undefined {
    const state = this.state;
    switch (state.at) {
      case 'head':
        return this.readHead();
      case 'length': {
        if (this.pending.length === 0) return undefined;
        const take = Math.min(state.left, this.pending.length);
        const data = this.pending.subarray(0, take);
        this.pending = this.pending.subarray(take);
        const left = state.left - take;
        this.state = left === 0 ? { at: 'head' } : { at: 'length', left };
        // The end follows on the next step: body first, then end.
        if (left === 0) this.ended = true;
        return { type: 'body', data };
      }
      case 'chunk-size': {
        const line = this.line();
        if (line === undefined) return this.pending.length > MAX_CHUNK_LINE ? refusal('bad-chunk', 'a chunk-size line is too long') : undefined;
        if ('type' in line) return line;
        const match = /^([0-9A-Fa-f]{1,12})(;[\x20-\x7e\t]*)?$/.exec(line.text);
        if (!match) return refusal('bad-chunk', `"${printable(line.text)}" is not a chunk size`);
        const size = parseInt(match[1]!, 16);
        this.state = size === 0 ? { at: 'trailer' } : { at: 'chunk-data', left: size };
        return { type: 'body', data: line.raw };
      }
      case 'chunk-data': {
        if (this.pending.length === 0) return undefined;
        const take = Math.min(state.left, this.pending.length);
        const data = this.pending.subarray(0, take);
        this.pending = this.pending.subarray(take);
        this.state = state.left === take ? { at: 'chunk-data-end' } : { at: 'chunk-data', left: state.left - take };
        return { type: 'body', data };
      }
      case 'chunk-data-end': {
        if (this.pending.length < 2) return undefined;
        if (this.pending[0] !== 0x0d || this.pending[1] !== 0x0a) return refusal('bad-chunk', 'a chunk does not end with CRLF where its size says');
        const data = this.pending.subarray(0, 2);
        this.pending = this.pending.subarray(2);
        this.state = { at: 'chunk-size' };
        return { type: 'body', data };
      }
      case 'trailer': {
        const line = this.line();
        if (line === undefined) return this.pending.length > MAX_CHUNK_LINE ? refusal('bad-chunk', 'a trailer line is too long') : undefined;
        if ('type' in line) return line;
        // Trailers are refused: fields after the body are headers the proxy did not frame, and
        // servers differ on whether they merge them into the head.
        if (line.text !== '') return refusal('trailers', 'the request sends trailer fields after its body');
        this.state = { at: 'head' };
        this.ended = true;
        return { type: 'body', data: line.raw };
      }
      default:
        return undefined;
    }
  }

  private ended = false;

  // Reads a head once it is complete (or refuses one that cannot be).
  private readHead(): RequestEvent | undefined {
    if (this.ended) {
      this.ended = false;
      return { type: 'end' };
    }
    if (this.pending.length === 0) return undefined;
    // Why by prefix: a client that speaks HTTP/2 would have every later frame read as garbage,
    // and the secret must go on requests the proxy parsed.
    const prefix = this.pending.subarray(0, HTTP2_PREFACE.length).toString('latin1');
    if (HTTP2_PREFACE.startsWith(prefix)) {
      return prefix.length === HTTP2_PREFACE.length ? refusal('http2-preface', 'the client speaks HTTP/2 (ALPN offers http/1.1 only)') : undefined;
    }
    const end = this.pending.indexOf('\r\n\r\n');
    const limit = end === -1 ? this.pending.length : end + 4;
    const text = this.pending.subarray(0, limit).toString('latin1');
    // A bare CR or LF anywhere in the head, checked as soon as it arrives.
    if (hasBareCrOrLf(end === -1 ? text.replace(/\r$/, '') : text)) return refusal('bare-cr-lf', 'the request head holds a bare CR or LF');
    if (end === -1) return this.pending.length > this.maxHeadBytes ? refusal('head-too-large', `the request head is larger than ${this.maxHeadBytes} bytes`) : undefined;
    if (end + 4 > this.maxHeadBytes) return refusal('head-too-large', `the request head is larger than ${this.maxHeadBytes} bytes`);
    const head = parseRequestHead(text.slice(0, end), this.tunnel);
    this.pending = this.pending.subarray(end + 4);
    if ('type' in head) return head;
    if (head.websocket) this.state = { at: 'upgraded' };
    else if (head.body.kind === 'length' && head.body.length > 0) this.state = { at: 'length', left: head.body.length };
    else if (head.body.kind === 'chunked') this.state = { at: 'chunk-size' };
    else this.ended = true;
    return { type: 'head', head };
  }

  // One CRLF-ended line from pending: its text and raw bytes; undefined until complete.
  private line(): { text: string; raw: Buffer } | Refusal | undefined {
    const end = this.pending.indexOf('\r\n');
    const text = this.pending.subarray(0, end === -1 ? this.pending.length : end).toString('latin1');
    if (text.includes('\n') || text.replace(/\r$/, '').includes('\r')) return refusal('bare-cr-lf', 'a chunk line holds a bare CR or LF');
    if (end === -1) return undefined;
    const raw = this.pending.subarray(0, end + 2);
    this.pending = this.pending.subarray(end + 2);
    return { text, raw };
  }
}
