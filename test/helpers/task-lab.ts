// The demo lab's policy for the tasks suites: two task tools, one plain tool, two held ones.
const approval = { approvers: ['alice'], timeout: '1m', wait: '300ms' };

export const TASK_LAB_POLICIES = {
  lab: {
    version: '1',
    default: 'deny',
    tools: {
      list_vms: { task: 'required' },
      health_checks: { task: 'optional' },
      get_vm_console_ticket: {},
      start_vm: { action: 'require_approval', approval },
      stop_vm: { action: 'require_approval', approval },
    },
  },
};
