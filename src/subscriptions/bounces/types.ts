/** What a provider's report means for one address. */
export type BounceKind = 'hard' | 'soft' | 'complaint';

export interface BounceEvent {
  email: string;
  kind: BounceKind;
  /** Provider's wording or SMTP status, for the operator; never stored with the address. */
  detail?: string;
}

export type BounceOutcome = 'suppressed' | 'counted' | 'ignored';

export interface BounceReport {
  received: number;
  suppressed: number;
  counted: number;
  ignored: number;
}
