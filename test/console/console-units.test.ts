import { describe, expect, it } from 'vitest';
import { auditCsv, type AuditEntry } from '../../src/store/audit.js';
import { formValues, toAlertInput, valuesFromAlert } from '../../src/console/compose-form.js';
import { RateMeter, channelProgress, formatEta } from '../../src/console/progress.js';
import { maskAddresses } from '../../src/console/failures.js';
import { assertMayApprove, assertMayPublish, publishBlocker, samePerson, type WorkflowAlert } from '../../src/publish/approval.js';
import { parsePublishAt } from '../../src/console/workflow-routes.js';
import { newAlert } from '../../src/domain/alert.js';
import { emptyCounts, type AlertCounts } from '../../src/store/ledger.js';

const counts = (email: Partial<ReturnType<typeof emptyCounts>>): AlertCounts => ({
  channels: { email: { ...emptyCounts(), ...email } },
  totals: emptyCounts(),
  outstanding: 0,
});

describe('compose form', () => {
  const base = { title: 'T', countries: 'kz ua;  ', summary: 'S', level: '', language: 'en', stages: ['4', '8'], recommendations: 'One\n\n  Two  \n' };

  it('turns the flat form into the alert schema and back', () => {
    const { input, errors } = toAlertInput(
      formValues({
        ...base,
        imageUrl: 'https://example.org/a.jpg',
        imageAlt: 'Alt',
        attachments: 'Report | https://example.org/r.pdf | application/pdf | 1200\nhttps://example.org/plain%20name.pdf',
        issuedAt: '2022-01-08T12:00',
      }),
    );
    expect(errors).toEqual([]);
    expect(input).toMatchObject({
      level: null,
      countries: ['KZ', 'UA'],
      stages: [
        { number: 4, name: 'Dehumanization' },
        { number: 8, name: 'Persecution' },
      ],
      recommendations: ['One', 'Two'],
      image: { url: 'https://example.org/a.jpg', alt: 'Alt' },
      attachments: [
        { title: 'Report', url: 'https://example.org/r.pdf', mediaType: 'application/pdf', bytes: 1200 },
        { title: 'plain name.pdf', url: 'https://example.org/plain%20name.pdf' },
      ],
      issuedAt: '2022-01-08T12:00:00Z',
    });
    const back = valuesFromAlert(newAlert(input!));
    expect(back).toMatchObject({ countries: 'KZ, UA', stages: ['4', '8'], recommendations: 'One\nTwo', issuedAt: '2022-01-08T12:00', level: '' });
    expect(toAlertInput(back).input).toEqual({ ...input, slug: 't' });
  });

  it('ignores fields the form does not have, and points every problem at a field', () => {
    const { errors } = toAlertInput(
      formValues({ ...base, status: 'published', id: 'x', imageCredit: 'Only a credit', stages: ['11'], recommendations: 'x'.repeat(2001) }),
    );
    expect(errors.map((e) => `${e.field}: ${e.message}`)).toEqual([
      'imageUrl: give an image URL or upload an image, or clear the other image fields',
      'stages: "11" is not one of the ten stages (1-10 or Classification, Symbolization, Discrimination, Dehumanization, Organization, Polarization, Preparation, Persecution, Extermination, Denial)',
      'recommendations: line 1: Too big: expected string to have <=2000 characters',
    ]);
  });
});

describe('audit export', () => {
  it('writes RFC 4180 CSV and defuses spreadsheet formulas', () => {
    const entries: AuditEntry[] = [
      { at: '2026-01-01T00:00:00.000Z', actor: '=HYPERLINK("http://evil")', role: 'publisher', action: 'approved', detail: 'says "hi", twice\nand more' },
      { at: '2026-01-01T00:00:01.000Z', actor: '@Ann', action: 'created' },
    ];
    expect(auditCsv(entries)).toBe(
      'at,actor,role,action,detail\r\n' +
        '2026-01-01T00:00:00.000Z,"\'=HYPERLINK(""http://evil"")",publisher,approved,"says ""hi"", twice\nand more"\r\n' +
        "2026-01-01T00:00:01.000Z,'@Ann,,created,\r\n",
    );
  });
});

describe('progress', () => {
  it('counts outcomes, rounds down, and estimates time left from the recent rate', () => {
    const meter = new RateMeter(10_000);
    meter.sample(counts({ total: 1000, sent: 100, queued: 900 }), 0);
    meter.sample(counts({ total: 1000, sent: 300, failed: 10, queued: 690 }), 2000);
    const [email] = channelProgress(counts({ total: 1000, sent: 300, failed: 10, queued: 690 }), meter);
    expect(email).toMatchObject({ done: 310, percent: 31, rate: 105, etaSeconds: 7 });
    expect(channelProgress(counts({ total: 3, sent: 2, unknown: 0, queued: 1 }))[0].percent).toBe(66);
    expect(channelProgress(counts({ total: 3, sent: 2, skipped: 1 }))[0]).toMatchObject({ percent: 100, etaSeconds: 0 });
    expect(formatEta(3725)).toBe('1 h 2 min');
  });
});

describe('approval rules', () => {
  const alert = (status: WorkflowAlert['status'], createdBy = 'Ann Author') =>
    ({
      ...newAlert({ title: 'T', countries: ['KZ'], summary: 'S', level: null, body: '', stages: [], recommendations: [], attachments: [], language: 'en' }),
      status,
      createdBy,
    }) as WorkflowAlert;

  it('with approvals 1 lets any publisher approve and publish', () => {
    expect(() => assertMayApprove({ approvals: 1 }, alert('draft'), 'Ann Author')).not.toThrow();
    expect(() => assertMayPublish({ approvals: 1 }, alert('draft'), 'Ann Author')).not.toThrow();
  });

  it('with approvals 2 needs an approval, and keeps the author from approving or publishing', () => {
    expect(() => assertMayApprove({ approvals: 2 }, alert('draft'), 'ann author')).toThrow('someone else must approve it');
    expect(() => assertMayApprove({ approvals: 2 }, alert('approved'), 'Bea')).toThrow('cannot be approved from status "approved"');
    expect(() => assertMayPublish({ approvals: 2 }, alert('draft'), 'Bea')).toThrow('must be approved by a second person');
    expect(() => assertMayPublish({ approvals: 2 }, alert('approved'), 'Ａｎｎ Author')).toThrow('someone else must publish it');
    expect(() => assertMayPublish({ approvals: 2 }, alert('approved'), 'Bea')).not.toThrow();
    expect(() => assertMayPublish({ approvals: 2 }, alert('published'), 'Ann Author')).not.toThrow();
    expect(publishBlocker({ approvals: 2 }, alert('published'), 'Bea')).toBe('Alert is published.');
    expect(samePerson(undefined, undefined)).toBe(false);
  });
});

describe('small parsers', () => {
  it('reads a datetime-local value as UTC and refuses anything else', () => {
    expect(parsePublishAt('2030-01-02T09:30').toISOString()).toBe('2030-01-02T09:30:00.000Z');
    expect(parsePublishAt('2030-01-02T09:30:00+02:00').toISOString()).toBe('2030-01-02T07:30:00.000Z');
    expect(() => parsePublishAt('next tuesday')).toThrow('publishAt: "next tuesday" is not a date and time like 2030-01-02T09:30');
  });

  it('masks addresses a provider quotes in its reason', () => {
    expect(maskAddresses('550 5.1.1 <jane.doe@example.org>: Recipient address rejected')).toBe('550 5.1.1 <ja***@ex***.org>: Recipient address rejected');
  });
});
