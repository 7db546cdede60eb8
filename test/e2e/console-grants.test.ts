import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { TestRedis } from '../helpers/redis.js';
import type { TestAirlock } from '../helpers/airlock-harness.js';
import { LAB_TOKENS, launchChromium, startLabGateway, type LabGateway } from '../helpers/lab-gateway.js';
import { untilChanged } from '../helpers/changes.js';
import { decisionOf } from '../../src/gateway/tool-error.js';
import type { StoredRecord } from '../../src/approval/approval-store.js';

const ALICE = LAB_TOKENS.alice;
const BOB = LAB_TOKENS.bob;
const AGENT = LAB_TOKENS.agent;

let redis: TestRedis;
let lab: LabGateway;
let gw: TestAirlock;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let agent: Client;
/** The grant made in the console, and the request that made it. */
let grantId = '';
let grantRequestId = '';

const grants = { max: '8h', scopes: ['exact', 'tool'] };

before(async () => {
  lab = await startLabGateway({
    start_vm: {
      action: 'require_approval',
      approval: { approvers: ['alice', 'bob'], timeout: '10m', wait: '50s', grants },
    },
    stop_vm: {
      action: 'require_approval',
      approval: { approvers: ['bob'], timeout: '10m', wait: '50s', grants },
    },
    delete_vm: { action: 'deny', reason: 'Deleting is done by people', mode: 'shadow' },
  });
  ({ redis, gw } = lab);
  agent = await gw.connect({ token: AGENT });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  page = await context.newPage();
  await page.goto(gw.url);
  await signIn(page, ALICE);
  await page.getByRole('heading', { name: 'Pending approvals' }).waitFor();
});

after(async () => {
  await browser?.close();
  await lab?.stop();
});

async function signIn(p: Page, token: string): Promise<void> {
  await p.getByLabel('Reviewer token').fill(token);
  await p.getByRole('button', { name: 'Sign in' }).click();
}

async function api(method: string, path: string, token = ALICE, body?: unknown) {
  const res = await fetch(`${gw.url}/api${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as any };
}

/** Starts a call and resolves once it is held: its pending request, and the call's eventual result. */
async function held(name: string, args: Record<string, unknown>) {
  const created = once(gw.airlock.approvals, 'created') as Promise<[StoredRecord]>;
  const result = agent.callTool({ name, arguments: args }) as Promise<CallToolResult>;
  const [record] = await created;
  return { record, result };
}

/** Waits until the history API has a record `check` picks (history is written after the agent's answer). */
function inHistory(path: string, check: (r: any) => boolean, what: string) {
  return untilChanged(
    { redisUrl: redis.url, prefix: gw.prefix },
    async () => (await api('GET', `/requests${path}`)).json.requests.find(check),
    what,
  );
}

const text = (r: CallToolResult) => (r.content[0] as { text: string }).text;

test('Approve for… checks the duration, shows the server’s refusal inline, and approves with a grant', async () => {
  // A refusal only the server knows: alice may not decide this request at all.
  const refused = await held('stop_vm', { vm_name: 'web-01' });
  await page.goto(`${gw.url}/#/requests/${refused.record.id}`);
  await page.getByRole('button', { name: 'Approve once' }).waitFor();
  await page.getByRole('button', { name: 'Approve for…' }).click();
  let dialog = page.getByRole('dialog', { name: 'Approve for a while' });
  await dialog.getByRole('button', { name: 'Approve for 1 hour' }).click();
  await dialog
    .getByRole('alert')
    .filter({ hasText: /alice is not an approver/ })
    .waitFor();
  assert.equal(await dialog.isVisible(), true, 'the dialog stays open');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'detached' });
  assert.equal((await api('GET', `/requests/${refused.record.id}`)).json.status, 'pending');
  await api('POST', `/requests/${refused.record.id}/reject`, BOB, { reason: 'test done' });
  await refused.result;

  await page.goto(`${gw.url}/#/`);
  const call = held('start_vm', { vm_name: 'web-01' });
  const card = page.locator('#queue article.card', { hasText: 'web-01' });
  await card.waitFor();
  grantRequestId = (await card.getAttribute('data-id'))!;
  await card.getByRole('button', { name: /once$/ }).waitFor();
  await card.getByRole('button', { name: /for a while$/ }).click();
  dialog = page.getByRole('dialog', { name: 'Approve for a while' });
  assert.match(await dialog.innerText(), /at most 8h/);
  for (const choice of ['15 minutes', '1 hour', '4 hours', '8 hours (longest allowed)'])
    await dialog.getByLabel(choice, { exact: true }).waitFor();
  await dialog.getByLabel(/^Other duration/).fill('9h');
  await dialog.getByRole('button', { name: 'Approve for…' }).click();
  await dialog.getByRole('alert').filter({ hasText: 'longer than this rule allows: at most 8h' }).waitFor();
  await dialog.getByLabel(/^Other duration/).fill('soon');
  await dialog.getByRole('button', { name: 'Approve for…' }).click();
  await dialog.getByRole('alert').filter({ hasText: 'like 30m, 2h or 1h30m' }).waitFor();
  assert.equal((await api('GET', `/requests/${grantRequestId}`)).json.status, 'pending', 'nothing sent');
  await dialog.getByLabel('1 hour', { exact: true }).check();
  await dialog.getByLabel('Any arguments to start_vm').check();
  await dialog.getByLabel(/Comment/).fill('rollout window');
  await dialog.getByRole('button', { name: 'Approve for 1 hour' }).click();
  const { result } = await call;
  assert.match(text(await result), /web-01/);
  await dialog.waitFor({ state: 'detached' });
  await card.waitFor({ state: 'detached' });
  await page
    .getByRole('status')
    .filter({ hasText: /Approved start_vm on lab with grant gr_/ })
    .waitFor();

  const record = (await api('GET', `/requests/${grantRequestId}`)).json;
  assert.equal(record.grant.scope, 'tool');
  assert.equal(record.grant.durationMs, 3600_000);
  assert.equal(record.decisions[0].via, 'console');
  assert.equal(record.decisions[0].comment, 'rollout window');
  grantId = record.grant.id;
});

test('a matching call then runs without a new request and the history shows it allowed via the grant', async () => {
  assert.ok(grantId, 'the previous test made a grant');
  const created: string[] = [];
  const onCreated = (r: StoredRecord) => void created.push(r.id);
  gw.airlock.approvals.on('created', onCreated);
  const result = (await agent.callTool({
    name: 'start_vm',
    arguments: { vm_name: 'db-01' },
  })) as CallToolResult;
  gw.airlock.approvals.off('created', onCreated);
  assert.deepEqual(created, [], 'no new request');
  assert.match(text(result), /db-01/);
  const granted = await inHistory('?tool=start_vm', (r) => r.grant === grantId, 'the granted call');

  await page.goto(`${gw.url}/#/history?tool=start_vm`);
  const row = page.locator(`table.history tr[data-id="${granted.id}"]`);
  await row.waitFor();
  await page.screenshot({ path: '/tmp/airlock-console-history-granted.png', fullPage: true });
  const listed = await row.innerText();
  assert.ok(/Allowed/.test(listed) && listed.includes(`allowed via grant ${grantId}`), listed);
  const madeRow = page.locator(`table.history tr[data-id="${grantRequestId}"]`);
  const made = await madeRow.innerText();
  assert.ok(made.includes(`made grant ${grantId} · 1h · any arguments`), made);

  await page.goto(`${gw.url}/#/requests/${granted.id}`);
  await page.locator('ol.timeline', { hasText: `Allowed via grant ${grantId}: no new request` }).waitFor();
  await page.goto(`${gw.url}/#/history?tool=start_vm`);
  await row.getByRole('link', { name: grantId }).click();
  await page.waitForURL(/#\/grants\?grant=gr_/);
  const picked = page.locator(`table.grants tr.picked[data-id="${grantId}"]`);
  await picked.waitFor();
  const shown = await picked.innerText();
  for (const s of ['start_vm', 'lab', 'ci-bot', 'any arguments', 'alice', grantRequestId, 'expires in'])
    assert.ok(shown.includes(s), `the grant row shows ${s}:\n${shown}`);
  await picked.getByRole('link', { name: grantRequestId }).click();
  await page.getByRole('heading', { name: 'start_vm on lab' }).waitFor();
  assert.match(await page.locator('section', { hasText: 'Request id' }).innerText(), /Grant\s+gr_/i);
});

test('Revoke in the Grants page asks first, removes the row, and the next call is held again', async () => {
  await page.goto(`${gw.url}/#/grants`);
  await page.getByRole('link', { name: 'Grants' }).and(page.locator('[aria-current=page]')).waitFor();
  await page.getByLabel('Tool').fill('start_vm');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await page.waitForURL(/#\/grants\?tool=start_vm$/);
  const row = page.locator(`table.grants tr[data-id="${grantId}"]`);
  await row.waitFor();
  const { scrollWidth, innerWidth } = await page.evaluate<{ scrollWidth: number; innerWidth: number }>(
    '({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth })',
  );
  assert.ok(scrollWidth <= innerWidth, `the table fits: ${scrollWidth} > ${innerWidth}`);
  await page.screenshot({ path: '/tmp/airlock-console-grants.png', fullPage: true });
  await row.getByRole('button', { name: `Revoke grant ${grantId} (start_vm on lab for ci-bot)` }).click();
  await row.getByText('Revoke this grant?').waitFor();
  await row.getByRole('button', { name: 'Keep' }).click();
  assert.equal((await api('GET', '/grants')).json.grants.length, 1, 'Keep revokes nothing');
  await row.getByRole('button', { name: /^Revoke grant/ }).click();
  await row.getByRole('button', { name: 'Yes, revoke' }).click();
  await row.waitFor({ state: 'detached' });
  await page
    .getByRole('status')
    .filter({ hasText: `Revoked grant ${grantId}` })
    .waitFor();
  await page.getByText('No active grant matches these filters.').waitFor();
  assert.deepEqual((await api('GET', '/grants')).json.grants, []);

  const again = await held('start_vm', { vm_name: 'app-01' });
  assert.equal(again.record.tool, 'start_vm', 'held for approval again');
  await api('POST', `/requests/${again.record.id}/reject`, ALICE, { reason: 'test done' });
  assert.equal(decisionOf(await again.result)?.status, 'rejected');
});

test('revoking a grant that already ended says so; a failed revoke keeps the row with its error', async () => {
  const { record, result } = await held('start_vm', { vm_name: 'web-02' });
  const approved = await api('POST', `/requests/${record.id}/approve`, BOB, {
    grant: { for: '30m', scope: 'exact' },
  });
  await result;
  const id = approved.json.grant.id as string;
  await page.goto(`${gw.url}/#/grants`);
  const row = page.locator(`table.grants tr[data-id="${id}"]`);
  assert.match(await row.innerText(), /exact arguments[\s\S]*[0-9a-f]{12}…[\s\S]*bob/);
  await row.getByRole('button', { name: /^Revoke grant/ }).click();
  // Someone else revokes it while this reviewer is asked to confirm (a row being confirmed stays).
  await api('DELETE', `/grants/${id}`, BOB);
  await row.getByRole('button', { name: 'Yes, revoke' }).click();
  await row.waitFor({ state: 'detached' });
  await page
    .getByRole('status')
    .filter({ hasText: `Grant ${id} had already ended` })
    .waitFor();

  const other = await held('start_vm', { vm_name: 'web-03' });
  const made = await api('POST', `/requests/${other.record.id}/approve`, BOB, {
    grant: { for: '30m', scope: 'exact' },
  });
  await other.result;
  await page.goto(`${gw.url}/#/grants`);
  const kept = page.locator(`table.grants tr[data-id="${made.json.grant.id}"]`);
  await kept.getByRole('button', { name: /^Revoke grant/ }).click();
  // A failure the reviewer cannot foresee (the server's Redis is down), injected at the network.
  await page.route('**/api/grants/*', (route) =>
    route.fulfill({
      status: 503,
      contentType: 'application/json',
      body: JSON.stringify({ error: { code: 'REDIS_UNAVAILABLE', message: 'Redis is unavailable' } }),
    }),
  );
  await kept.getByRole('button', { name: 'Yes, revoke' }).click();
  await kept.getByRole('alert').filter({ hasText: 'Could not revoke: Redis is unavailable' }).waitFor();
  await page.unroute('**/api/grants/*');
  assert.equal((await api('GET', '/grants')).json.grants.length, 1, 'the grant is still active');
  await api('DELETE', `/grants/${made.json.grant.id}`);
});

test('a shadow record shows its badge in history and detail; the shadow filter lists only those', async () => {
  await agent.callTool({ name: 'delete_vm', arguments: { vm_name: 'old-01' } });
  const shadowed = await inHistory('?shadow=true', (r) => r.tool === 'delete_vm', 'the shadowed call');
  await page.goto(`${gw.url}/#/history?shadow=true`);
  assert.equal(await page.getByLabel('Shadow mode').inputValue(), 'true');
  const row = page.locator(`table.history tr[data-id="${shadowed.id}"]`);
  await row.locator('.badge.shadow', { hasText: 'shadow: would deny (lab/delete_vm)' }).waitFor();
  const rows = page.locator('table.history tbody tr');
  assert.ok((await rows.allInnerTexts()).every((t) => t.includes('shadow: would')));

  await page.goto(`${gw.url}/#/history?shadow=false`);
  await page.locator('table.history tbody tr').first().waitFor();
  assert.equal(await page.locator('table.history .badge.shadow').count(), 0, 'enforced only');

  await page.goto(`${gw.url}/#/requests/${shadowed.id}`);
  await page.locator('.detail-head .badge.shadow', { hasText: 'would deny (lab/delete_vm)' }).waitFor();
  const detail = await page.locator('#view').innerText();
  assert.match(
    detail,
    /Shadow mode\s+the call ran; an enforced policy would deny \(lab\/delete_vm\): Deleting/i,
  );
  assert.match(detail, /Allowed by shadow mode/);
});

test('on a phone (390×844) the grant dialog and the grants page fit the screen and are tappable', async () => {
  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 },
    isMobile: true,
    hasTouch: true,
    deviceScaleFactor: 2,
  });
  try {
    const p = await phone.newPage();
    await p.goto(gw.url);
    await signIn(p, BOB);
    const call = held('start_vm', { vm_name: 'phone-01' });
    const card = p.locator('#queue article.card', { hasText: 'phone-01' });
    await card.getByRole('button', { name: /for a while$/ }).tap();
    const dialog = p.getByRole('dialog', { name: 'Approve for a while' });
    await dialog.waitFor();
    // Page-side code as strings: this project's TypeScript has no DOM lib.
    const { scrollWidth, innerWidth } = await p.evaluate<{ scrollWidth: number; innerWidth: number }>(
      "({ scrollWidth: document.getElementById('grant-dialog').scrollWidth, innerWidth: window.innerWidth })",
    );
    assert.ok(scrollWidth <= innerWidth, `the dialog fits: ${scrollWidth} > ${innerWidth}`);
    for (const label of await dialog.locator('label.choice').all()) {
      const box = (await label.boundingBox())!;
      assert.ok(box.height >= 44, `choice tap target ${box.height}px high`);
    }
    await p.screenshot({ path: '/tmp/airlock-console-grant-dialog.png' });
    await dialog.getByLabel('15 minutes', { exact: true }).tap();
    await dialog.getByRole('button', { name: 'Approve for 15 minutes' }).tap();
    const { record, result } = await call;
    await result;
    const approved = (await api('GET', `/requests/${record.id}`)).json;
    assert.equal(approved.grant.durationMs, 15 * 60_000);
    assert.equal(approved.grant.scope, 'exact', 'the narrowest scope is the default');

    await p.goto(`${gw.url}/#/grants`);
    const row = p.locator(`table.grants tr[data-id="${approved.grant.id}"]`);
    const revoke = row.getByRole('button', { name: /^Revoke grant/ });
    await revoke.waitFor();
    const page = await p.evaluate<{ scrollWidth: number; innerWidth: number }>(
      '({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth })',
    );
    assert.ok(page.scrollWidth <= page.innerWidth, `no horizontal scroll: ${page.scrollWidth}`);
    const box = (await revoke.boundingBox())!;
    assert.ok(box.height >= 44 && box.width >= 44, `tap target ${box.width}×${box.height}`);
    await p.screenshot({ path: '/tmp/airlock-console-grants-phone.png', fullPage: true });
    await revoke.tap();
    await row.getByRole('button', { name: 'Yes, revoke' }).tap();
    await row.waitFor({ state: 'detached' });
    assert.deepEqual((await api('GET', '/grants')).json.grants, []);
  } finally {
    await phone.close();
  }
});
