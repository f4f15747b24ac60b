// Every job payload Tocsin puts on a queue, as one discriminated union.

export type PublishJob = { kind: 'publish'; alertId: string };

/** One batch of email recipients. The ids are fixed at fan-out; the ledger decides who still needs mail. */
export type EmailBatchJob = { kind: 'email-batch'; alertId: string; subscriberIds: number[] };

/** Post the alert to one account (webhook or social). One target per account per alert. */
export type AccountPostJob = { kind: 'account-post'; alertId: string; channel: string };

export type JobPayload = PublishJob | EmailBatchJob | AccountPostJob;

/** BullMQ custom ids must not contain ':'; these are deterministic so re-adding is a no-op. */
export const jobIds = {
  publish: (alertId: string) => `publish-${alertId}`,
  emailBatch: (alertId: string, firstSubscriberId: number) => `${alertId}-s${firstSubscriberId}`,
  accountPost: (alertId: string) => `${alertId}-post`,
  retry: (base: string, round: string) => `${base}-retry-${round}`,
};
