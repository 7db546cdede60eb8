import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Browser, Page } from 'playwright-core';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { TestAirlock } from '../helpers/airlock-harness.js';
import { LAB_TOKENS, launchChromium, startLabGateway, type LabGateway } from '../helpers/lab-gateway.js';
import { argumentHash } from '../../src/core/approval/canonical.js';
import type { StoredRecord } from '../../src/approval/approval-store.js';

const ALICE = LAB_TOKENS.alice;
const AGENT = LAB_TOKENS.agent;

let lab: LabGateway;
let gw: TestAirlock;
let browser: Browser;
let page: Page;
let agent: Client;

before(async () => {
  lab = await startLabGateway(
    {
      capture_network_traffic: {
        when: [{ args: { interface: { eq: 'eth9' } }, action: 'deny', reason: 'eth9 is off limits' }],
        action: 'require_approval',
        approval: { approvers: ['alice'], timeout: '10m', wait: '50s', allow_edit: true },
      },
      stop_vm: {
        action: 'require_approval',
        approval: { approvers: ['alice'], timeout: '10m', wait: '50s' },
      },
    },
    { reviewers: ['alice'] },
  );
  ({ gw } = lab);
  agent = await gw.connect({ token: AGENT });
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1200, height: 900 } })).newPage();
  await page.goto(gw.url);
  await page.getByLabel('Reviewer token').fill(ALICE);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Pending approvals' }).waitFor();
});

after(async () => {
  await browser?.close();
  await lab?.stop();
});

async function held(name: string, args: Record<string, unknown>) {
  const created = once(gw.airlock.approvals, 'created') as Promise<[StoredRecord]>;
  const result = agent.callTool({ name, arguments: args }) as Promise<CallToolResult>;
  const [record] = await created;
  return { record, result };
}

test('a rule without allow_edit offers no edit on the detail page', async () => {
  const { record, result } = await held('stop_vm', { vm_name: 'web-01' });
  await page.goto(`${gw.url}/#/requests/${record.id}`);
  await page.getByRole('button', { name: 'Approve', exact: true }).waitFor();
  assert.equal(await page.locator('#detail-edit').count(), 0);
  await gw.airlock.approvals.decide(record.id, {
    reviewerId: 'alice',
    via: 'api',
    decision: 'reject',
    reason: 'done',
  });
  await result;
});

test('edit and approve: bad JSON and refusals are shown in the dialog with the request pending; a good edit approves it', async () => {
  const { record, result } = await held('capture_network_traffic', { vm_name: 'web-01', duration: 5 });
  await page.goto(`${gw.url}/#/requests/${record.id}`);
  await page.getByRole('button', { name: 'Edit and approve…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Edit and approve' });
  await dialog.waitFor();
  const args = dialog.getByLabel(/Arguments/);
  assert.deepEqual(JSON.parse(await args.inputValue()), { vm_name: 'web-01', duration: 5 });
  const submit = dialog.getByRole('button', { name: 'Approve with these arguments' });
  const error = dialog.getByRole('alert');

  await args.fill('{"vm_name": "web-01", "duration": 5');
  await submit.click();
  await error.filter({ hasText: /^Not valid JSON/ }).waitFor();

  await args.fill('{"vm_name": "web-01", "duration": "ten"}');
  await submit.click();
  await error.filter({ hasText: /\$\.duration: must be integer/ }).waitFor();

  await args.fill('{"vm_name": "web-01", "duration": 5, "interface": "eth9"}');
  await submit.click();
  await error.filter({ hasText: /eth9 is off limits/ }).waitFor();
  const still = (await gw.airlock.approvals.get(record.id))!;
  assert.equal(still.status, 'pending');
  assert.deepEqual(still.args, { vm_name: 'web-01', duration: 5 });

  await args.fill('{"vm_name": "web-01", "duration": 1, "filter": "tcp port 443"}');
  await dialog.getByLabel(/Comment/).fill('one second is enough');
  await submit.click();
  await dialog.waitFor({ state: 'hidden' });
  const answer = await result;
  assert.notEqual(answer.isError, true, JSON.stringify(answer));
  assert.match((answer.content[0] as { text: string }).text, /tcp port 443/);

  const editedHash = argumentHash('lab', 'capture_network_traffic', {
    vm_name: 'web-01',
    duration: 1,
    filter: 'tcp port 443',
  });
  await page.locator('.badge', { hasText: 'Executed' }).waitFor();
  assert.match(await page.getByLabel('Arguments', { exact: true }).innerText(), /tcp port 443/);
  const original = page.locator('#edited');
  assert.match(await original.innerText(), /Edited by alice via console/);
  assert.equal(await original.locator('code.hash').innerText(), record.argsHash);
  assert.match(await page.getByLabel('Original arguments').innerText(), /"duration": 5/);
  const hashes = await page.locator('code.hash').allInnerTexts();
  assert.ok(hashes.includes(editedHash), hashes.join(', '));
  assert.match(await page.locator('ol.timeline').innerText(), /alice approved with changes via console/);
});
