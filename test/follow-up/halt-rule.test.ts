import { describe, expect, it } from 'vitest';
import { canHalt, fanOutOver, type HaltCheck } from '../../src/publish/halt.js';
import { goingOut, type FanOuts } from '../../src/console/fan-outs.js';
import type { AlertCounts } from '../../src/store/ledger.js';

// The one rule for "can this be halted now", read by haltAlert and by the console's "Stop sending".

const halt = (version: number) => ({ by: 'Pat', reason: 'wrong', at: '2026-01-01T00:00:00.000Z', version });
const check = (over: Partial<HaltCheck>): HaltCheck => ({
  status: 'publishing',
  halt: null,
  latestVersion: 1,
  fanOutState: 'fanning-out',
  outstanding: 10,
  ...over,
});

describe('the halt rule', () => {
  it('halts what is going out, and nothing that is done', () => {
    expect(canHalt(check({}))).toBe(true);
    expect(canHalt(check({ status: 'published', fanOutState: 'fanned-out', outstanding: 0 }))).toBe(false);
    expect(canHalt(check({ status: 'draft' }))).toBe(false);
  });

  it('halts a correction going out after an earlier halt, but not twice the same version', () => {
    const correcting = check({ status: 'corrected', halt: halt(1), latestVersion: 2, fanOutState: 'fanned-out', outstanding: 40 });
    expect(canHalt(correcting)).toBe(true);
    expect(canHalt({ ...correcting, halt: halt(2) })).toBe(false);
    // The console asks the same question through its own view of the fan-outs.
    const fans: FanOuts = {
      publication: { state: 'fanned-out', cursor: 0, batches: 1, recipients: 1 } as FanOuts['publication'],
      followUps: [],
      halt: halt(1),
      versionCount: 2,
    };
    expect(goingOut('corrected', fans, { outstanding: 40 } as AlertCounts)).toBe(true);
    expect(goingOut('corrected', { ...fans, halt: halt(2) }, { outstanding: 40 } as AlertCounts)).toBe(false);
  });

  it('counts a halted fan-out as over only if it never started (one under way still records the rest as skipped)', () => {
    expect(fanOutOver(1, 'not-started', halt(1))).toBe(true);
    expect(fanOutOver(1, 'fanning-out', halt(1))).toBe(false);
    expect(fanOutOver(2, 'not-started', halt(1))).toBe(false);
    expect(fanOutOver(2, 'fanned-out', null)).toBe(true);
  });
});
