import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  classifyTool,
  classifyTools,
  starterPolicy,
  type ToolInfo,
} from '../../src/policy/classify-tools.js';
import { evaluate, parsePolicy } from '../../src/core/policy/index.js';

const classOf = (tool: ToolInfo) => classifyTool(tool).class;

test('annotations decide first, with the MCP defaults (readOnlyHint false, destructiveHint true)', () => {
  const t = (annotations: ToolInfo['annotations']) => classifyTool({ name: 'do_thing', annotations });
  assert.deepEqual(t({ readOnlyHint: true }), {
    tool: 'do_thing',
    class: 'read-only',
    source: 'annotations',
    reason: 'readOnlyHint: true',
  });
  // readOnlyHint wins: destructiveHint is meaningful only when the tool is not read-only.
  assert.equal(t({ readOnlyHint: true, destructiveHint: true }).class, 'read-only');
  assert.equal(t({ destructiveHint: true }).class, 'destructive');
  const unset = t({ readOnlyHint: false });
  assert.equal(unset.class, 'destructive');
  assert.match(unset.reason, /MCP default: destructive/);
  assert.equal(
    t({ idempotentHint: true }).class,
    'destructive',
    'idempotent alone does not clear the default',
  );
  assert.deepEqual(t({ destructiveHint: false, idempotentHint: true }), {
    tool: 'do_thing',
    class: 'execute',
    source: 'annotations',
    reason: 'destructiveHint: false, idempotent',
  });
  assert.equal(
    t({ readOnlyHint: false, destructiveHint: false, idempotentHint: false }).reason,
    'destructiveHint: false',
  );
});

test('annotations without any of the three hints fall through to the name', () => {
  assert.deepEqual(classifyTool({ name: 'list_users', annotations: { openWorldHint: true } }), {
    tool: 'list_users',
    class: 'read-only',
    source: 'name',
    reason: 'name says "list"',
  });
});

test('a destructive verb in the name beats annotations that claim less', () => {
  const c = classifyTool({ name: 'delete_bucket', annotations: { readOnlyHint: true } });
  assert.equal(c.class, 'destructive');
  assert.equal(c.source, 'name');
  assert.match(c.reason, /name says "delete", although the annotations say read-only \(readOnlyHint: true\)/);
});

test('names: destructive words anywhere, else the first verb', () => {
  const cases: [string, string][] = [
    ['delete_vm', 'destructive'],
    ['vm_delete', 'destructive'],
    ['removeUser', 'destructive'],
    ['dropTable', 'destructive'],
    ['purge-cache', 'destructive'],
    ['wipe_disk', 'destructive'],
    ['kill_process', 'destructive'],
    ['terminate_instance', 'destructive'],
    ['revoke_token', 'destructive'],
    ['reset_password', 'destructive'],
    ['format_volume', 'destructive'],
    ['get_vm', 'read-only'],
    ['listVMs', 'read-only'],
    ['read_file', 'read-only'],
    ['describe_instances', 'read-only'],
    ['show_config', 'read-only'],
    ['search_issues', 'read-only'],
    ['status', 'read-only'],
    ['get_order', 'read-only'],
    ['get_or_create_user', 'execute'],
    ['start_vm', 'execute'],
    ['vm.start', 'execute'],
    ['set_status', 'execute'],
    ['createIssue', 'execute'],
    ['list_deleted_items', 'read-only'],
  ];
  for (const [name, expected] of cases) assert.equal(classOf({ name }), expected, name);
});

test('descriptions, when the name says nothing; else execute', () => {
  assert.deepEqual(
    classifyTool({ name: 'vm_tool', description: 'Permanently removes the VM and its disks.' }),
    {
      tool: 'vm_tool',
      class: 'destructive',
      source: 'description',
      reason: 'description says "Permanently"',
    },
  );
  assert.equal(classOf({ name: 'accounts', description: 'Deletes an account' }), 'destructive');
  assert.equal(
    classOf({ name: 'inventory', description: 'Returns the inventory in JSON format.' }),
    'read-only',
  );
  assert.equal(classOf({ name: 'inventory', description: 'Lists hosts' }), 'read-only');
  assert.equal(classOf({ name: 'weather', description: 'Weather for a city' }), 'execute');
  assert.deepEqual(classifyTool({ name: 'frobnicate' }), {
    tool: 'frobnicate',
    class: 'execute',
    source: 'default',
    reason: 'no annotations, and neither name nor description says what it does',
  });
});

test('the starter policy parses and decides by class; glob-like names are left to the default', () => {
  const classified = classifyTools([
    { name: 'list_vms', annotations: { readOnlyHint: true } },
    { name: 'start_vm', annotations: { readOnlyHint: false, destructiveHint: false } },
    { name: 'delete_vm', annotations: { destructiveHint: true } },
    { name: 'weird*tool' },
    { name: '__proto__', annotations: { readOnlyHint: true } },
  ]);
  const doc = starterPolicy(classified, { server: 'lab', executePerMinute: 5 });
  assert.deepEqual(
    Object.keys(doc.tools),
    ['__proto__', 'list_vms', 'start_vm', 'delete_vm'],
    'harmless first',
  );
  assert.match(
    doc.description,
    /from 5 tool\(s\): 2 read-only \(allowed\), 1 execute \(rate-limited\), 1 destructive/,
  );
  const policy = parsePolicy(JSON.parse(JSON.stringify(doc)), 'lab.json');
  const at = (tool: string) => evaluate(policy, { server: 'lab', tool, agent: 'a', args: {} });
  assert.equal(at('list_vms').action, 'allow');
  assert.deepEqual(at('list_vms').limits, []);
  assert.equal(at('start_vm').action, 'allow');
  assert.deepEqual(
    at('start_vm').limits.map((l) => [l.counter, l.window, l.max, l.scope]),
    [['start_vm_rate', 'minute', 5, 'grant']],
  );
  const del = at('delete_vm');
  assert.equal(del.action, 'require_approval');
  assert.deepEqual(del.approval?.approvers, []);
  assert.equal(del.approval?.minApprovals, 1);
  assert.equal(at('weird*tool').action, 'deny');
  assert.equal(at('weird-x-tool').action, 'deny', 'no glob entry was written');
});
