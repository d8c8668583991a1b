// Follows a TLS handshake from both sides, sans-io, until the server's first encrypted record:
// every plaintext ClientHello is read and checked, not only the first. A client whose first hello
// (a listed name) draws a HelloRetryRequest must send its second hello with the same name; a
// second hello at any other time, a third, non-TLS bytes or any record but a handshake,
// ChangeCipherSpec or alert (0-RTT data only after a hello that offered it) is refused, because a
// server with name-based virtual hosts serves whichever name the last hello asked for.
//
// The caller feeds what each side sent, in order, and relays the client's bytes only while
// holding() is false (never a part of a ClientHello that has not been checked whole); once done()
// is true it relays both ways without looking: what follows is encrypted, and a server that has
// keys refuses a plaintext hello.

import { TlsRecordReader, type RecordVisitor } from './tls-record-reader.ts';
import { HandshakeReader, type HandshakeVisitor } from './handshake-reader.ts';
import { parseClientHelloBody, type ClientHelloFacts } from './client-hello.ts';
import { parseServerHelloBody } from './server-hello.ts';
import { normaliseName, printable } from './host-name.ts';

export interface FollowerLimits {
  /** Largest ClientHello, all its records with their headers. */
  maxHelloBytes: number;
  /** Most records one ClientHello may be split over (a real one needs one to four). */
  maxHelloRecords: number;
}

export type ClientStep =
  | { status: 'ok'; hello?: ClientHelloFacts }
  | { status: 'refused'; reason: string; /** The client spoke TLS, so an alert is the answer. */ tls: boolean };

export type ServerStep = { status: 'ok' } | { status: 'refused'; reason: string };

const RECORD_CHANGE_CIPHER_SPEC = 20;
const RECORD_ALERT = 21;
const RECORD_HANDSHAKE = 22;
const RECORD_APPLICATION_DATA = 23;
const CLIENT_HELLO = 1;
const SERVER_HELLO = 2;
const MAX_PLAINTEXT = 16384;
const MAX_SERVER_HELLO = 65536;
// Said by a visitor to stop reading the server side: the rest is encrypted.
const ENCRYPTED = '\0encrypted';

export class HandshakeFollower {
  private readonly clientRecords = new TlsRecordReader();
  private readonly clientMessages = new HandshakeReader();
  private readonly serverRecords = new TlsRecordReader();
  private readonly serverMessages = new HandshakeReader();
  private clientType = -1;
  /** TLS 1.2 after the client's ChangeCipherSpec: its records are encrypted, not read. */
  private clientOpaque = false;
  private hellos = 0;
  private helloRecords = 0;
  private first: ClientHelloFacts | undefined;
  private completed: ClientHelloFacts | undefined;
  private retried = false;
  private chosen: { tls13: boolean } | undefined;
  private serverType = -1;
  private encrypted = false;
  private refusedWith: string | undefined;

  constructor(private readonly limits: FollowerLimits) {}

  // The server has sent its first encrypted record (or, TLS 1.2, its ChangeCipherSpec).
  done(): boolean {
    return this.encrypted;
  }

  // Part of a record, or of a ClientHello, has been read but not yet judged whole.
  holding(): boolean {
    if (!this.clientRecords.atBoundary()) return true;
    if (!this.clientMessages.inMessage()) return false;
    const type = this.clientMessages.currentType();
    return type === undefined || type === CLIENT_HELLO;
  }

  // Feeds what the client sent next; a completed first hello is returned for the door to judge.
  client(chunk: Buffer): ClientStep {
    if (this.refusedWith) return { status: 'refused', reason: this.refusedWith, tls: true };
    this.completed = undefined;
    const stop = this.clientRecords.read(chunk, this.clientVisitor);
    if (stop) {
      this.refusedWith = stop;
      return { status: 'refused', reason: stop, tls: !/^not TLS|^SSL 2\.0/.test(stop) };
    }
    return this.completed ? { status: 'ok', hello: this.completed } : { status: 'ok' };
  }

  // Feeds what the server sent next.
  server(chunk: Buffer): ServerStep {
    if (this.encrypted) return { status: 'ok' };
    const stop = this.serverRecords.read(chunk, this.serverVisitor);
    if (stop === ENCRYPTED) {
      this.encrypted = true;
      return { status: 'ok' };
    }
    return stop ? { status: 'refused', reason: stop } : { status: 'ok' };
  }

  private readonly clientVisitor: RecordVisitor = {
    header: (type, version, length) => {
      this.clientType = type;
      if (this.clientOpaque) return undefined;
      if (this.hellos === 0 && this.clientRecords.records === 1 && type !== RECORD_HANDSHAKE) {
        return (type & 0x80) !== 0 ? 'SSL 2.0 hello (no SNI possible)' : 'not TLS';
      }
      if (version >> 8 !== 3 || (version & 0xff) > 4) return 'not TLS (bad record version)';
      if (length === 0 || length > MAX_PLAINTEXT) return `bad TLS record length ${length}`;
      if (this.clientMessages.inMessage() && type !== RECORD_HANDSHAKE) return 'ClientHello interrupted by another record type';
      switch (type) {
        case RECORD_HANDSHAKE:
          if (++this.helloRecords > this.limits.maxHelloRecords && this.chosen === undefined) {
            return `ClientHello split over more than ${this.limits.maxHelloRecords} TLS records`;
          }
          return undefined;
        case RECORD_CHANGE_CIPHER_SPEC:
        case RECORD_ALERT:
          return undefined;
        case RECORD_APPLICATION_DATA:
          // 0-RTT data goes to the server the checked hello named, under keys bound to it.
          if (this.first?.earlyData && !this.retried && this.chosen === undefined) return undefined;
          return 'application data before the TLS handshake finished';
        default:
          return `TLS record type ${type} before the handshake finished`;
      }
    },
    fragment: (piece) => (this.clientType === RECORD_HANDSHAKE && !this.clientOpaque ? this.clientMessages.read(piece, this.clientHandshake) : undefined),
    end: () => {
      if (this.clientType === RECORD_CHANGE_CIPHER_SPEC && this.chosen && !this.chosen.tls13) this.clientOpaque = true;
      return undefined;
    },
  };

  private readonly clientHandshake: HandshakeVisitor = {
    header: (type, length) => {
      if (type !== CLIENT_HELLO) {
        if (this.hellos === 0) return 'first TLS handshake message is not a ClientHello';
        if (this.chosen === undefined) return 'unexpected bytes after the ClientHello';
        // TLS 1.3 sends nothing but encrypted handshake messages after the server's hello.
        if (this.chosen.tls13) return 'plaintext handshake message after the server chose TLS 1.3';
        return 'skip'; // TLS 1.2: Certificate, ClientKeyExchange, CertificateVerify
      }
      if (this.hellos === 1 && !this.retried) return 'a second ClientHello without a HelloRetryRequest';
      if (this.hellos >= 2) return 'a third ClientHello';
      const whole = 4 + length;
      // Records of the hello plus their 5-byte headers must fit the cap.
      if (whole + 5 * Math.ceil(whole / MAX_PLAINTEXT) > this.limits.maxHelloBytes) return `ClientHello larger than ${this.limits.maxHelloBytes} bytes`;
      return 'keep';
    },
    message: (type, body) => {
      if (type !== CLIENT_HELLO || !body) return undefined;
      const hello = parseClientHelloBody(body);
      if (hello.status === 'refused') return hello.reason;
      const facts: ClientHelloFacts = { sni: hello.sni, ech: hello.ech, earlyData: hello.earlyData };
      this.hellos++;
      this.helloRecords = 0;
      if (this.hellos === 1) {
        this.first = facts;
        this.completed = facts;
        return undefined;
      }
      if (facts.ech) return 'second ClientHello carries an encrypted ClientHello (ECH)';
      const before = this.first?.sni === undefined ? undefined : normaliseName(this.first.sni);
      const now = facts.sni === undefined ? undefined : normaliseName(facts.sni);
      if (now !== before) {
        return `second ClientHello (after a HelloRetryRequest) names ${now === undefined ? 'no server' : `"${printable(now, 253)}"`}, not "${printable(before ?? '', 253)}"`;
      }
      return undefined;
    },
  };

  private readonly serverVisitor: RecordVisitor = {
    header: (type, version) => {
      this.serverType = type;
      if (version >> 8 !== 3) return 'the server did not answer with TLS';
      if (type === RECORD_APPLICATION_DATA) return ENCRYPTED;
      if (type === RECORD_CHANGE_CIPHER_SPEC) return this.chosen && !this.chosen.tls13 ? ENCRYPTED : undefined;
      if (type === RECORD_HANDSHAKE || type === RECORD_ALERT) return undefined;
      return 'the server did not answer with TLS';
    },
    fragment: (piece) => (this.serverType === RECORD_HANDSHAKE ? this.serverMessages.read(piece, this.serverHandshake) : undefined),
    end: () => undefined,
  };

  private readonly serverHandshake: HandshakeVisitor = {
    header: (type, length) => {
      if (type !== SERVER_HELLO || this.chosen) return 'skip';
      return length > MAX_SERVER_HELLO ? 'malformed ServerHello: too long' : 'keep';
    },
    message: (type, body) => {
      if (type !== SERVER_HELLO || !body) return undefined;
      const facts = parseServerHelloBody(body);
      if (!facts.ok) return facts.reason;
      if (facts.retry) {
        if (this.retried) return 'a second HelloRetryRequest';
        this.retried = true;
        return undefined;
      }
      this.chosen = { tls13: facts.tls13 };
      return undefined;
    },
  };
}

export type HelloRead = { status: 'incomplete' } | { status: 'refused'; reason: string } | ({ status: 'hello' } & ClientHelloFacts);

// The first ClientHello in `bytes` (everything a client sent so far), judged as the follower
// judges it; bytes after the hello are judged too (a packed second message refuses). Never throws.
export function readClientHello(bytes: Buffer, maxBytes: number, maxRecords = DEFAULT_MAX_HELLO_RECORDS): HelloRead {
  const follower = new HandshakeFollower({ maxHelloBytes: maxBytes, maxHelloRecords: maxRecords });
  const step = follower.client(bytes);
  if (step.status === 'refused') return { status: 'refused', reason: step.reason };
  return step.hello ? { status: 'hello', ...step.hello } : { status: 'incomplete' };
}

/** Most records one ClientHello may be split over: a real one needs at most four (64 KiB). */
export const DEFAULT_MAX_HELLO_RECORDS = 32;
