import type { Alert } from './alert.js';

// A correction or a retraction as it goes out on a channel: one place for its words, so every
// channel (social text, chat formats, webhooks) says the same thing.

export interface FollowUpNotice {
  kind: 'correction' | 'retraction';
  /** The new version's number (2, 3, ...). */
  version: number;
  /** "What changed" for a correction, "why" for a retraction. */
  note: string;
  /** When the new version was made (ISO). */
  at: string;
}

const day = (iso: string, language: string) => new Date(iso).toLocaleDateString(language, { year: 'numeric', month: 'long', day: 'numeric', timeZone: 'UTC' });

/** "Correction (8 January 2022): the date was wrong." / "Retraction (8 January 2022): …" */
export function followUpHeading(notice: FollowUpNotice, language: string): string {
  return `${notice.kind === 'correction' ? 'Correction' : 'Retraction'} (${day(notice.at, language)})`;
}

/**
 * The alert as a follow-up message shows it: the title says what it is, the summary leads with
 * what changed or why it was withdrawn. A retraction carries nothing else of the original.
 */
export function followUpAlert<A extends Alert>(alert: A, notice: FollowUpNotice): A {
  const heading = followUpHeading(notice, alert.language);
  // The photo went out with the original; the follow-up is text that answers it.
  if (notice.kind === 'correction') {
    return { ...alert, title: `${heading}: ${alert.title}`, summary: `What changed: ${notice.note}\n\n${alert.summary}`, image: undefined };
  }
  return {
    ...alert,
    title: `${heading}: ${alert.title}`,
    summary: `This alert has been retracted: ${notice.note} Please do not act on it or share it.`,
    body: '',
    stages: [],
    recommendations: [],
    attachments: [],
    image: undefined,
  };
}
