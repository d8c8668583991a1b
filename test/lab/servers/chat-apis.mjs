// Lab stand-ins for the services NanoClaw talks to, on one TLS address and port, routed by the
// HTTP Host: a Messages API (api.anthropic.test: POST /v1/messages, plain JSON or SSE when
// "stream": true), Discord's REST (GET /api/v10/gateway/bot, answering with the gateway URL) and
// Discord's gateway (a WebSocket that speaks HELLO, takes IDENTIFY, answers READY and heartbeat
// ACKs). Each request is one JSON line in the log before it is answered, so a test can check
// what really arrived (with the token's presence, never its value).
// With `secretFiles` (credential injection, issue 23) each service answers only the real secret —
// the Messages API an `x-api-key` equal to the anthropic file's value, the REST
// `authorization: Bot <discord>`, the gateway an IDENTIFY/RESUME whose d.token is it — re-read from
// the files on every request (so a test may change a secret), and every log line says whether the
// request or frame was `authorized`, whether a secret was `leaked` anywhere else in it, and whether
// it carried a `placeholder`. A model named "claude-slow" streams 60 events 250 ms apart.
//
//   node chat-apis.mjs '{"name":"apis","address":"203.0.113.20","port":443,"log":"/x.jsonl",
//     "certPem":"…","keyPem":"…","gateway":"gateway.discord.test",
//     "secretFiles":{"anthropic":"/0600/file","discord":"/0600/file"}}'

import { appendFileSync, readFileSync } from 'node:fs';
import https from 'node:https';
import { WebSocketServer } from 'ws';

const config = JSON.parse(process.argv[2]);
const log = (entry) => appendFileSync(config.log, `${JSON.stringify({ at: Date.now(), ...entry })}\n`);
// The secrets now, or undefined when this server does not check them.
const secrets = () => config.secretFiles && Object.fromEntries(Object.entries(config.secretFiles).map(([k, f]) => [k, readFileSync(f, 'latin1').replace(/\r?\n$/, '')]));
const PLACEHOLDER = 'nanopolicy-placeholder:';
// Whether any secret appears in `text` once the one field that may hold it is taken out.
const leakedIn = (text, values) => Object.values(values).some((v) => text.includes(v));

// One Messages API answer: the text echoes the last user message.
function message(body) {
  const last = body.messages?.at(-1)?.content;
  const text = `lab says: ${typeof last === 'string' ? last : JSON.stringify(last)}`;
  return { id: 'msg_lab_1', type: 'message', role: 'assistant', model: body.model, content: [{ type: 'text', text }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 5, output_tokens: 7 } };
}

// The same answer as Server-Sent Events, in the order the Messages API sends them.
function streamed(res, body) {
  const m = message(body);
  const text = m.content[0].text;
  const half = Math.ceil(text.length / 2);
  const events = [
    ['message_start', { type: 'message_start', message: { ...m, content: [], stop_reason: null, usage: { input_tokens: 5, output_tokens: 1 } } }],
    ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
    ['ping', { type: 'ping' }],
    ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: text.slice(0, half) } }],
    ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: text.slice(half) } }],
    ...(body.model === 'claude-slow' ? Array.from({ length: 60 }, (_, i) => ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: ` ${i}` } }]) : []),
    ['content_block_stop', { type: 'content_block_stop', index: 0 }],
    ['message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 7 } }],
    ['message_stop', { type: 'message_stop' }],
  ];
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let i = 0;
  const next = () => {
    if (i === events.length) return res.end();
    const [event, data] = events[i++];
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    setTimeout(next, body.model === 'claude-slow' ? 250 : 5);
  };
  next();
}

const server = https.createServer({ cert: config.certPem, key: config.keyPem }, (req, res) => {
  const host = String(req.headers.host ?? '').replace(/:\d+$/, '');
  let raw = '';
  req.on('data', (d) => (raw += d));
  req.on('end', () => {
    const entry = { kind: 'http', host, method: req.method, path: req.url, servername: req.socket.servername, from: req.socket.remoteAddress,
      apiKey: req.headers['x-api-key'] !== undefined, authorization: req.headers.authorization !== undefined, userAgent: req.headers['user-agent'] };
    const values = secrets();
    if (values) {
      const wanted = host === 'api.anthropic.test' ? ['x-api-key', values.anthropic] : ['authorization', `Bot ${values.discord}`];
      entry.authorized = req.headers[wanted[0]] === wanted[1];
      const rest = req.rawHeaders.filter((_, i) => i % 2 === 1 && req.rawHeaders[i - 1].toLowerCase() !== wanted[0]).join('\n') + raw + req.url;
      entry.leaked = leakedIn(rest, values);
      entry.placeholder = rest.includes(PLACEHOLDER);
      if (!entry.authorized) {
        log({ ...entry, status: 401 });
        res.writeHead(401, { 'content-type': 'application/json' });
        return res.end(JSON.stringify(host === 'api.anthropic.test' ? { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } } : { message: '401: Unauthorized', code: 0 }));
      }
    }
    if (host === 'api.anthropic.test' && req.method === 'POST' && req.url === '/v1/messages') {
      const body = JSON.parse(raw || '{}');
      log({ ...entry, stream: body.stream === true });
      if (body.stream) return streamed(res, body);
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(message(body)));
    }
    if (host === 'discord.test' && req.method === 'GET' && req.url.startsWith('/api/v10/gateway/bot')) {
      log(entry);
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ url: `wss://${config.gateway}`, shards: 1, session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 1 } }));
    }
    log({ ...entry, status: 404 });
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ message: '404: Not Found', code: 0 }));
  });
});

// Discord's gateway: HELLO, then READY for an IDENTIFY, an ACK for each heartbeat.
const wss = new WebSocketServer({ noServer: true });
server.on('upgrade', (req, socket, head) => {
  const host = String(req.headers.host ?? '').replace(/:\d+$/, '');
  log({ kind: 'upgrade', host, path: req.url, servername: req.socket.servername, from: req.socket.remoteAddress });
  if (host !== config.gateway) return socket.destroy();
  wss.handleUpgrade(req, socket, head, (ws) => {
    let seq = 0;
    const send = (payload) => ws.send(JSON.stringify(payload));
    send({ op: 10, d: { heartbeat_interval: 41250 }, s: null, t: null });
    ws.on('message', (data) => {
      let m;
      try {
        m = JSON.parse(String(data));
      } catch {
        return;
      }
      const values = secrets();
      const entry = { kind: 'gateway', op: m.op, token: typeof m.d?.token === 'string' && m.d.token.length > 0 };
      if (values) {
        entry.authorized = (m.op === 2 || m.op === 6) && m.d?.token === values.discord;
        const rest = m.op === 2 || m.op === 6 ? JSON.stringify({ ...m, d: { ...m.d, token: '' } }) : String(data);
        entry.leaked = leakedIn(rest, values);
        entry.placeholder = String(data).includes(PLACEHOLDER);
        if ((m.op === 2 || m.op === 6) && !entry.authorized) {
          log(entry);
          return ws.close(4004, 'Authentication failed.');
        }
      }
      log(entry);
      if (m.op === 1) send({ op: 11, d: null, s: null, t: null });
      if (m.op === 2) {
        send({
          op: 0, t: 'READY', s: ++seq,
          d: {
            v: 10, user: { id: '100000000000000001', username: 'lab-bot', discriminator: '0', global_name: null, avatar: null, bot: true, flags: 0 },
            guilds: [], session_id: 'lab-session', resume_gateway_url: `wss://${config.gateway}`, shard: [0, 1],
            application: { id: '100000000000000001', flags: 0 }, private_channels: [], relationships: [], presences: [], user_settings: {},
          },
        });
      }
    });
  });
});

server.listen(config.port, config.address, () => {
  process.stdout.write(`${JSON.stringify({ pid: process.pid, port: server.address().port })}\n`);
});
