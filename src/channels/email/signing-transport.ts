import { dotStuff } from './dot-stuff.js';
import type { DkimSigner } from './dkim-signer.js';
import type { MailTransport } from './mail-transport.js';

/**
 * Every message through this transport is DKIM-signed before it goes on: createMailTransport puts
 * it in front of whichever transport sends (SMTP or the outbox), so alert emails, subscription
 * emails and any later kind are signed without their code having to remember it.
 */
export function signingTransport(inner: MailTransport, signer: DkimSigner): MailTransport {
  return {
    async send(message) {
      // One form for hashing and for the wire: CRLF line ends, dot-stuffed.
      const wire = message.dotStuffed ? (typeof message.raw === 'string' ? Buffer.from(message.raw, 'utf8') : message.raw) : dotStuff(message.raw);
      const raw = await signer.sign(wire, { dotStuffed: true, bodyHash: message.bodyHash });
      return inner.send({ from: message.from, to: message.to, raw, dotStuffed: true });
    },
    verify: () => inner.verify(),
    close: () => inner.close(),
  };
}
