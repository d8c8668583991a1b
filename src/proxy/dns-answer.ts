// One DNS query in, at most one answer out: the decision of the responder on the gateway, pure
// (bytes in, bytes out). Listed names get the gateway's address for A, no data for every other
// type; everything else gets NXDOMAIN at once. Nothing here can ask anyone else: there is no
// forwarder to fall back to, so a query for a name we do not list ends here (domain.md §8: DNS
// to the gateway is a side channel only if it can leave the host).

import * as dnsPacket from 'dns-packet';
import type { ProxyRule } from '../formats/proxy-config.ts';
import { nameMatches } from '../formats/match-rule.ts';
import { invalidHostName, normaliseName, printable } from '../net/host-name.ts';

export interface DnsDecision {
  /** The bytes to send back to the client, or undefined to send nothing (not a query at all). */
  reply: Buffer | undefined;
  /** The name asked for (normalised, printable), '' when none could be read. */
  name: string;
  /** The query type ('A', 'AAAA', 'HTTPS', …), '' when none could be read. */
  type: string;
  rcode: 'NOERROR' | 'NXDOMAIN' | 'FORMERR' | 'NOTIMP' | 'REFUSED';
  /** The egress rule whose name matched (the query was answered from the policy). */
  rule?: ProxyRule;
  /** One sentence for the audit log. */
  reason: string;
}

export interface DnsAnswerOptions {
  rules: readonly ProxyRule[];
  /** The gateway: the only address this responder ever hands out. */
  answer: string;
  ttl: number;
}

const HEADER_BYTES = 12;
const QR = 0x8000;
const AA = 1 << 10;
const RD = 1 << 8;
// RA is set: the responder is the VM's whole resolver (there is no other it may reach), so
// "recursion available" is true for every name the VM may know; stub resolvers such as
// systemd-resolved distrust a server that denies it.
const RA = 1 << 7;

// Decides the answer to one DNS message (a UDP datagram, or a TCP message without its length).
export function answerDnsQuery(packet: Buffer, options: DnsAnswerOptions): DnsDecision {
  if (packet.length < HEADER_BYTES) return drop('', '', 'FORMERR', `a message of ${packet.length} bytes is shorter than a DNS header`);
  const id = packet.readUInt16BE(0);
  const flags = packet.readUInt16BE(2);
  // An answer sent to us is never answered: two responders must not be able to ping-pong.
  if (flags & QR) return drop('', '', 'FORMERR', 'a DNS response, not a query');
  const opcode = (flags >> 11) & 0xf;
  const rd = flags & RD;
  if (opcode !== 0) return fail(id, rd, 'NOTIMP', '', '', `opcode ${opcode} is not a standard query`);
  // One question, as every real stub resolver sends; more is a way to make one datagram cost many
  // answers (and RFC 9619 made qdcount > 1 a FORMERR).
  if (packet.readUInt16BE(4) !== 1) return fail(id, rd, 'FORMERR', '', '', `${packet.readUInt16BE(4)} questions instead of one`);

  let decoded: dnsPacket.Packet;
  try {
    // dns-packet follows only backward compression pointers, so a pointer loop cannot spin.
    decoded = dnsPacket.decode(packet);
  } catch (error) {
    return fail(id, rd, 'FORMERR', '', '', `not a DNS message (${printable((error as Error).message, 60)})`);
  }
  const question = decoded.questions?.[0];
  if (!question || typeof question.name !== 'string') return fail(id, rd, 'FORMERR', '', '', 'no question');
  const name = normaliseName(question.name);
  const shown = printable(name, 253);
  const type = typeof question.type === 'string' ? question.type : String(question.type);
  if (question.class !== 'IN') return fail(id, rd, 'REFUSED', shown, type, `class ${printable(String(question.class), 20)} is not IN`, question);

  // A name that is no host name never matches: a label holding a dot or other bytes decodes to text
  // that reads like another name ("..cdn.example.test" under "*.cdn.example.test"), and written back
  // it is not the question asked — the reply's bytes would then be garbage a resolver may misread.
  // Such a question is not echoed either.
  const problem = invalidHostName(name);
  if (problem) return fail(id, rd, 'NXDOMAIN', shown, type, `not a host name (${problem}): no address, nothing forwarded`);
  const rule = options.rules.find((r) => nameMatches(r.host, name));
  if (!rule) return fail(id, rd, 'NXDOMAIN', shown, type, 'name not listed: no address, nothing forwarded', question);
  // A listed name: the gateway for A; no data (NOERROR, empty) for AAAA and every other type, so
  // a client falls back to the A answer at once instead of waiting for a timeout.
  const answers: dnsPacket.Answer[] = type === 'A'
    ? [{ type: 'A', class: 'IN', name: question.name, ttl: options.ttl, data: options.answer }]
    : [];
  const reply = encode(id, AA | rd | RA, question, answers);
  const reason = type === 'A' ? `name listed: answered ${options.answer}` : `name listed: no ${printable(type, 20)} data`;
  return { reply, name: shown, type, rcode: 'NOERROR', rule, reason };
}

// A refusal with an answer: the header's id, the question when one was read, and the code.
function fail(id: number, rd: number, rcode: Exclude<DnsDecision['rcode'], 'NOERROR'>, name: string, type: string, reason: string,
  question?: dnsPacket.Question): DnsDecision {
  const reply = encode(id, (rcode === 'NXDOMAIN' ? AA : 0) | rd | RA | RCODES[rcode], question, []);
  return { reply, name, type, rcode, reason };
}

// The answer's bytes, echoing the question; a question whose decoded name cannot be written back
// (labels that were not text) is left out rather than sent wrong.
function encode(id: number, flags: number, question: dnsPacket.Question | undefined, answers: dnsPacket.Answer[]): Buffer {
  if (question) {
    try {
      return dnsPacket.encode({ id, type: 'response', flags, questions: [{ name: question.name, type: question.type, class: question.class }], answers });
    } catch {
      // fall through: answer without the question
    }
  }
  return dnsPacket.encode({ id, type: 'response', flags, questions: [], answers: [] });
}

// No answer at all (not a query, or too short to carry an id to answer).
function drop(name: string, type: string, rcode: DnsDecision['rcode'], reason: string): DnsDecision {
  return { reply: undefined, name, type, rcode, reason };
}

const RCODES = { FORMERR: 1, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
