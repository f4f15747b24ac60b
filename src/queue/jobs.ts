// Every job Tocsin puts on a queue, as one discriminated union, with the queue each kind goes to
// and its deterministic id (re-adding an id BullMQ already has is a no-op).

/** Render every channel once and fan the alert out. One per alert. */
export type PublishJob = { kind: 'publish'; alertId: string };

/** Publish an alert at the time staff chose (a delayed job). */
export type ScheduledPublishJob = { kind: 'scheduled-publish'; alertId: string };

/** Send a correction or retraction (version 2, 3, ...) on every channel: a fan-out like publish. */
export type FollowUpJob = { kind: 'follow-up'; alertId: string; version: number; deleteOriginals?: boolean };

/**
 * One batch of email recipients. The ids are fixed at fan-out; the ledger decides who still needs
 * mail. `version` is 1 (the alert) or a follow-up's version.
 */
export type EmailBatchJob = { kind: 'email-batch'; alertId: string; subscriberIds: number[]; version?: number };

/** Post the alert (or one version's follow-up) to one account (webhook or social). */
export type AccountPostJob = { kind: 'account-post'; alertId: string; channel: string; version?: number };

export type TocsinJob = PublishJob | ScheduledPublishJob | FollowUpJob | EmailBatchJob | AccountPostJob;
export type JobKind = TocsinJob['kind'];
export type JobOf<K extends JobKind> = Extract<TocsinJob, { kind: K }>;

export const QUEUE = {
  publish: 'publish',
  schedule: 'schedule',
  email: 'email',
  /** One queue per account, so each has its own limiter, concurrency and pause. */
  account: (channel: string) => `account-${channel}`,
} as const;

/** The queue a job goes to. */
export function queueOf(job: TocsinJob): string {
  switch (job.kind) {
    case 'publish':
    case 'follow-up':
      return QUEUE.publish;
    case 'scheduled-publish':
      return QUEUE.schedule;
    case 'email-batch':
      return QUEUE.email;
    case 'account-post':
      return QUEUE.account(job.channel);
  }
}

/** BullMQ custom ids must not contain ':'; these are deterministic so re-adding is a no-op. */
export const jobIds = {
  publish: (alertId: string) => `publish-${alertId}`,
  scheduledPublish: (alertId: string, at: Date) => `schedule-${alertId}-${at.getTime()}`,
  followUp: (alertId: string, version: number) => `followup-${alertId}-v${version}`,
  emailBatch: (alertId: string, firstSubscriberId: number, version = 1) => `${alertId}${version > 1 ? `-v${version}` : ''}-s${firstSubscriberId}`,
  accountPost: (alertId: string, version = 1) => `${alertId}${version > 1 ? `-v${version}` : ''}-post`,
  resume: (alertId: string, round: string) => `publish-${alertId}-resume-${round}`,
  retry: (base: string, round: string) => `${base}-retry-${round}`,
};
