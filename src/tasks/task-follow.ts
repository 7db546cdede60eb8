import type { GetTaskResult } from '../core/tasks/index.js';
import type { Logger } from '../log.js';
import type { TaskStore } from './task-store.js';
import type { TaskWatch } from './task-watch.js';

/** The DetailedTask a status notification carries: what `tasks/get` answers, without `resultType`. */
export type DetailedTask = Omit<GetTaskResult, 'resultType'>;

/** One followed task. */
export interface FollowedTask {
  /** The task when following began. */
  readonly task: DetailedTask;
  /** Stops following; nothing more is reported. */
  stop(): void;
}

/** Options for {@link TaskFollower}. */
export interface TaskFollowerOptions {
  /** Where a task's approval request is found. */
  store: TaskStore;
  /** The task as `tasks/get` answers it (the TaskService's, which derives a held task's status). */
  read(id: string, agent: string): Promise<GetTaskResult | undefined>;
  watch: TaskWatch;
  logger: Logger;
}

/**
 * Follows an agent's tasks for `notifications/tasks`: after each change heard from any replica, the task
 * is read again as `tasks/get` would answer it, and reported when its status (or the questions it asks)
 * differ from what was last reported. Reads of one task run one at a time, in the order heard.
 */
export class TaskFollower {
  constructor(private readonly o: TaskFollowerOptions) {}

  /**
   * Follows the agent's task `id`, calling `onChange` with each new status; undefined when the agent has
   * no such task (an unknown id and another agent's are the same: nothing is followed, nothing is said).
   */
  async follow(
    id: string,
    agent: string,
    onChange: (task: DetailedTask) => void,
  ): Promise<FollowedTask | undefined> {
    const record = await this.o.store.get(id, agent);
    if (!record) return undefined;
    let stopped = false;
    let last: string | undefined;
    let chain = Promise.resolve();
    const read = async (): Promise<DetailedTask | undefined> => {
      const got = await this.o.read(id, agent).catch((err: unknown) => {
        this.o.logger.debug({ err, taskId: id }, 'could not read a followed task');
        return undefined;
      });
      if (!got) return undefined;
      const { resultType: _complete, ...task } = got;
      return task;
    };
    const changed = () => {
      chain = chain
        .then(async () => {
          const task = await read();
          // Changes heard before the first read are in it; a task gone (expired) is not reported.
          if (stopped || !task || last === undefined || fingerprint(task) === last) return;
          last = fingerprint(task);
          onChange(task);
        })
        // One failed delivery must not stop the reads after it.
        .catch((err: unknown) => this.o.logger.debug({ err, taskId: id }, 'a task notification failed'));
    };
    const unwatch = await this.o.watch.watch(id, record.approvalId, changed);
    // Read once the watch is live, so that no change after this read goes unheard.
    let first: DetailedTask | undefined;
    await (chain = chain.then(async () => {
      first = await read();
      if (first) last = fingerprint(first);
    }));
    if (!first) {
      unwatch();
      return undefined;
    }
    return {
      task: first,
      stop: () => {
        stopped = true;
        unwatch();
      },
    };
  }
}

/** What a status notification reports a change of. */
function fingerprint(task: DetailedTask): string {
  return JSON.stringify([task.status, Object.keys(task.inputRequests ?? {}).sort()]);
}
