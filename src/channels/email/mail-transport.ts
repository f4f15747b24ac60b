// The smallest mail transport contract, in a file of its own so that transports can implement it
// without importing the module that chooses among them.

export interface OutgoingMail {
  from: string;
  to: string;
  raw: Buffer | string;
  /** `raw` has CRLF line ends and is dot-stuffed already (MimeTemplate's output): sent as it is. */
  dotStuffed?: boolean;
  /**
   * DKIM relaxed body hash (base64 SHA-256) of `raw`'s body, when the builder can compute it
   * cheaply; a function so that it is computed only when a signer asks.
   */
  bodyHash?: string | (() => string);
}

/** The smallest mail transport Tocsin needs; Tocsin's SMTP pool (smtp-pool.ts) implements it. */
export interface MailTransport {
  /** Sends a finished RFC 5322 message. Resolves with the server's reply once it accepted it. */
  send(message: OutgoingMail): Promise<{ response: string }>;
  verify(): Promise<void>;
  close(): void;
}
