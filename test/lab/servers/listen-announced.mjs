// The end every lab TLS server shares: a client's failed handshake is no server error; a listen
// that fails ends the process with one line; once bound, one JSON line on stdout says ready
// (start-service.ts waits for it).

export function listenAnnounced(server, config) {
  server.on('tlsClientError', () => {});
  server.on('error', (error) => {
    process.stderr.write(`${config.name}: ${error.message}\n`);
    process.exit(1);
  });
  server.listen({ host: config.address, port: config.port, exclusive: true }, () => {
    process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid, port: server.address().port })}\n`);
  });
}
