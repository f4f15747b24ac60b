import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedIn, startHarness, TOKENS, type Client, type Harness } from './harness.js';
import { seedSubscribers } from '../helpers/fixtures.js';
import { waitFor } from '../helpers/context.js';
import { SCHEDULE_QUEUE } from '../../src/publish/schedule.js';
import type { WorkflowAlert } from '../../src/publish/approval.js';

// approvals: 2, scheduling and editing, through the console's own forms over HTTP.

const json = { accept: 'application/json' };
const draftForm = (title: string) => ({
  title,
  level: 'emergency',
  countries: 'KZ',
  summary: 'Security forces have been ordered to fire on protesters without warning.',
  body: 'We are issuing a **Genocide Emergency Alert** for Kazakhstan.',
  stages: ['4', '8'],
  recommendations: 'Suspend purchases.\nDemand the withdrawal of foreign troops.',
  language: 'en',
});

async function compose(client: Client, title: string): Promise<string> {
  const response = await client.request('/console/compose', { method: 'POST', form: { ...draftForm(title), _csrf: await client.csrf('/console/compose') } });
  expect(response.status).toBe(303);
  return /\/console\/alerts\/([0-9A-Z]{26})/.exec(response.headers.get('location') ?? '')![1];
}

async function post(client: Client, path: string, form: Record<string, string> = {}, csrfFrom = '/console/alerts') {
  return client.request(path, { method: 'POST', form: { ...form, _csrf: await client.csrf(csrfFrom) }, headers: json });
}

describe('approvals: 2, scheduling and editing', () => {
  let h: Harness;
  let ann: Client;
  let second: Client;

  beforeAll(async () => {
    h = await startHarness('console-workflow', { workers: true, overrides: { approvals: 2 } });
    await seedSubscribers(h.ctx, 3, () => ({ countries: ['KZ'], minLevel: 'all' }));
    ann = await signedIn(h.baseUrl, TOKENS.publisher, 'Ann Author');
    second = await signedIn(h.baseUrl, TOKENS.second, 'ignored: this token names its person');
  });
  afterAll(async () => {
    await h.close();
  });

  it('lets neither the author approve or publish, and publishes at the time a second person scheduled', async () => {
    const id = await compose(ann, 'Four eyes');
    const api = (path: string) => fetch(`${h.baseUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${h.ctx.config.secrets.adminToken}` } });

    const selfApprove = await post(ann, `/console/alerts/${id}/approve`);
    expect(selfApprove.status).toBe(403);
    expect(await selfApprove.json()).toMatchObject({
      code: 'TOCSIN_ERR_SAME_PERSON',
      error: 'Ann Author wrote alert four-eyes; with approvals: 2 someone else must approve it',
    });
    // The same person typing their name differently is still the same person.
    const annAgain = await signedIn(h.baseUrl, TOKENS.publisher, '  ann   AUTHOR ');
    expect((await post(annAgain, `/console/alerts/${id}/approve`)).status).toBe(403);

    const unapproved = await post(ann, `/console/alerts/${id}/publish`, { confirm: 'yes' });
    expect(unapproved.status).toBe(409);
    expect((await unapproved.json()).code).toBe('TOCSIN_ERR_APPROVAL_REQUIRED');
    // The API and CLI path enforces it too.
    expect((await (await api(`/api/alerts/${id}/publish`)).json()).code).toBe('TOCSIN_ERR_APPROVAL_REQUIRED');
    expect((await h.ctx.alerts.require(id)).status).toBe('draft');

    expect(
      (await second.request(`/console/alerts/${id}/approve`, { method: 'POST', form: { _csrf: await second.csrf(`/console/alerts/${id}`) } })).status,
    ).toBe(303);
    const approved = (await h.ctx.alerts.require(id)) as WorkflowAlert;
    expect(approved).toMatchObject({ status: 'approved', approvedBy: 'Second Person' });

    const authorPublish = await post(ann, `/console/alerts/${id}/publish`, { confirm: 'yes' });
    expect(authorPublish.status).toBe(403);
    expect((await authorPublish.json()).code).toBe('TOCSIN_ERR_SAME_PERSON');
    const page = await (await ann.request(`/console/alerts/${id}`)).text();
    expect(page).toContain('Publish: Ann Author wrote alert four-eyes; with approvals: 2 someone else must publish it');
    expect(page).not.toContain('Publish or schedule…');

    // The second person schedules it a moment ahead; the schedule worker publishes it then.
    const at = new Date(Date.now() + 1500).toISOString();
    const scheduled = await second.request(`/console/alerts/${id}/schedule`, {
      method: 'POST',
      form: { _csrf: await second.csrf(`/console/alerts/${id}/publish`), publishAt: at },
    });
    expect(scheduled.status).toBe(303);
    expect((await h.ctx.alerts.require(id)).status).toBe('scheduled');
    const published = await waitFor(async () => {
      const a = await h.ctx.alerts.require(id);
      return a.status === 'published' ? (a as WorkflowAlert) : undefined;
    }, 'the scheduled alert to be published');
    expect(published.publishRequestedBy).toBe('Second Person');
    expect(new Date(published.publishedAt!).getTime()).toBeGreaterThanOrEqual(new Date(at).getTime());
    await waitFor(async () => h.smtp.received.length === 3, 'the three subscribers to get it');

    // Who wrote, approved, scheduled and published, in the audit log and its exports.
    const audit = await (await ann.request(`/console/alerts/${id}/audit.json`)).json();
    expect(audit.entries.map((e: { action: string; actor: string }) => `${e.action} by ${e.actor}`)).toEqual([
      'created by Ann Author',
      'approved by Second Person',
      'scheduled by Second Person',
      'scheduled-publish by Second Person',
    ]);
    const csv = await ann.request(`/console/alerts/${id}/audit.csv`);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(csv.headers.get('content-disposition')).toBe('attachment; filename="audit-four-eyes.csv"');
    const rows = (await csv.text()).trim().split('\r\n');
    expect(rows[0]).toBe('at,actor,role,action,detail');
    expect(rows[2]).toMatch(/^[^,]+,Second Person,publisher,approved,written by Ann Author$/);
    expect(rows).toHaveLength(5);
  });

  it('cancels a scheduled publication and removes its job; refuses a time in the past', async () => {
    const editor = await signedIn(h.baseUrl, TOKENS.editor, 'Ed Editor');
    const id = await compose(editor, 'Later');
    await second.request(`/console/alerts/${id}/approve`, { method: 'POST', form: { _csrf: await second.csrf(`/console/alerts/${id}`) } });

    const past = await second.request(`/console/alerts/${id}/schedule`, {
      method: 'POST',
      form: { _csrf: await second.csrf(`/console/alerts/${id}/publish`), publishAt: '2020-01-01T10:00' },
    });
    expect(past.status).toBe(400);
    expect(await past.text()).toContain('publishAt: 2020-01-01T10:00:00.000Z is in the past');
    const garbage = await second.request(`/console/alerts/${id}/schedule`, {
      method: 'POST',
      form: { _csrf: await second.csrf(`/console/alerts/${id}/publish`), publishAt: 'tomorrow' },
    });
    expect(garbage.status).toBe(400);
    expect((await h.ctx.alerts.require(id)).status).toBe('approved');

    const inAnHour = new Date(Date.now() + 3600_000).toISOString().slice(0, 16);
    expect(
      (
        await second.request(`/console/alerts/${id}/schedule`, {
          method: 'POST',
          form: { _csrf: await second.csrf(`/console/alerts/${id}/publish`), publishAt: inAnHour },
        })
      ).status,
    ).toBe(303);
    const scheduled = (await h.ctx.alerts.require(id)) as WorkflowAlert;
    expect(scheduled.status).toBe('scheduled');
    expect(scheduled.scheduledFor).toBe(`${inAnHour}:00.000Z`);
    const job = await h.ctx.queues.get(SCHEDULE_QUEUE).getJob(scheduled.scheduleJob!);
    expect(await job?.getState()).toBe('delayed');

    const page = await (await second.request(`/console/alerts/${id}`)).text();
    expect(page).toContain('Cancel scheduled publication');
    expect(
      (await second.request(`/console/alerts/${id}/schedule/cancel`, { method: 'POST', form: { _csrf: await second.csrf(`/console/alerts/${id}`) } })).status,
    ).toBe(303);
    expect((await h.ctx.alerts.require(id)).status).toBe('approved');
    expect(await h.ctx.queues.get(SCHEDULE_QUEUE).getJob(scheduled.scheduleJob!)).toBeUndefined();
    const again = await post(second, `/console/alerts/${id}/schedule/cancel`);
    expect(again.status).toBe(409);
    expect((await again.json()).code).toBe('TOCSIN_ERR_ALERT_NOT_SCHEDULED');
    const actions = (await h.ctx.redis.lrange(h.ctx.keys.audit(id), 0, -1)).map((e) => JSON.parse(e).action);
    expect(actions).toEqual(['created', 'approved', 'scheduled', 'schedule-cancelled']);
  });

  it('takes an edited approved alert back to draft, and refuses an edit made over someone else’s', async () => {
    const editor = await signedIn(h.baseUrl, TOKENS.editor, 'Ed Editor');
    const id = await compose(editor, 'Edited');
    await second.request(`/console/alerts/${id}/approve`, { method: 'POST', form: { _csrf: await second.csrf(`/console/alerts/${id}`) } });
    const version = (await h.ctx.alerts.require(id)).updatedAt;

    const edit = (v: string, title: string) =>
      editor
        .csrf(`/console/alerts/${id}/edit`)
        .then((csrf) => editor.request(`/console/alerts/${id}/edit`, { method: 'POST', form: { ...draftForm(title), version: v, _csrf: csrf } }));
    const saved = await edit(version, 'Edited, second version');
    expect(saved.status).toBe(303);
    expect(saved.headers.get('location')).toContain('notice=saved-unapproved');
    const after = (await h.ctx.alerts.require(id)) as WorkflowAlert;
    expect(after).toMatchObject({ status: 'draft', title: 'Edited, second version', slug: 'edited', createdBy: 'Ed Editor' });
    expect(after.approvedBy).toBeUndefined();

    // A second editor who opened the first version cannot silently overwrite the second.
    const stale = await edit(version, 'Edited from a stale page');
    expect(stale.status).toBe(409);
    expect(await stale.text()).toContain('was changed by someone else after you opened it');
    expect((await h.ctx.alerts.require(id)).title).toBe('Edited, second version');
  });
});
