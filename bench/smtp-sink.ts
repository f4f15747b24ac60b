import { SMTPServer } from 'smtp-server';

// The SMTP sink, in its own process so its CPU is not counted against the sender's. It accepts
// everything, drains DATA and counts messages, recipients (and duplicates) and bytes per phase.

let phase = { messages: 0, recipients: 0, bytes: 0, duplicates: 0, connections: 0, firstAt: 0 };
let seen = new Set<string>();

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  disableReverseLookup: true,
  logger: false,
  size: 10 * 1024 * 1024,
  onConnect(_session, callback) {
    phase.connections++;
    callback();
  },
  onData(stream, session, callback) {
    let bytes = 0;
    stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
    stream.on('end', () => {
      // When the first message of the phase was accepted (wall clock, to compare with the publish time).
      if (phase.messages === 0) phase.firstAt = Date.now();
      phase.messages++;
      phase.bytes += bytes;
      for (const rcpt of session.envelope.rcptTo) {
        phase.recipients++;
        if (seen.has(rcpt.address)) phase.duplicates++;
        else seen.add(rcpt.address);
      }
      callback();
    });
  },
});
server.on('error', (err) => process.send?.({ type: 'error', message: err.message }));

process.on('message', (m: { type: string }) => {
  if (m.type === 'counts') process.send?.({ type: 'counts', ...phase, unique: seen.size });
  if (m.type === 'reset') {
    phase = { messages: 0, recipients: 0, bytes: 0, duplicates: 0, connections: 0, firstAt: 0 };
    seen = new Set();
    process.send?.({ type: 'reset-done' });
  }
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => {
  const { port } = server.server.address() as { port: number };
  process.send?.({ type: 'ready', port });
});
