import { tryParseDuration } from './duration.js';
import type { PolicyAction, TaskMode } from './types.js';

/** The task keys of a tool entry or `when` rule, as written. */
export interface TaskKeys {
  task?: TaskMode;
  task_after?: string;
}

/** The task part of a compiled outcome. */
export interface TaskOutcome {
  task?: TaskMode;
  taskAfterMs?: number;
}

/**
 * The task keys of an outcome deciding `action`. Written keys are kept on allow and are an error
 * elsewhere: a denied call never runs, and a held call runs as a task whenever the client supports
 * tasks, so there they could only mislead. `inherited` (a rule's entry) fills the keys a rule leaves
 * out, when the rule allows. `task_after` means nothing without `task`.
 */
export function compileTask(
  written: TaskKeys,
  inherited: TaskKeys | undefined,
  action: PolicyAction,
  issue: (key: keyof TaskKeys, message: string) => void,
): TaskOutcome {
  if (action !== 'allow') {
    for (const key of ['task', 'task_after'] as const) {
      if (written[key] === undefined) continue;
      issue(
        key,
        action === 'deny'
          ? `${key} applies only to allowed calls; a denied call never runs`
          : `${key} applies only to allowed calls; a call held for approval runs as a task whenever the client supports tasks`,
      );
    }
    return {};
  }
  const task = written.task ?? inherited?.task;
  const after = written.task_after ?? inherited?.task_after;
  if (after !== undefined && task === undefined) {
    if (written.task_after !== undefined)
      issue('task_after', 'task_after needs task ("optional" or "required")');
    return {};
  }
  return {
    ...(task !== undefined && { task }),
    ...(after !== undefined && { taskAfterMs: tryParseDuration(after) as number }),
  };
}
