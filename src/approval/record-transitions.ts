import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { AirlockError } from '../core/errors.js';
import type { Refusal, Transitioned } from '../core/approval/state-machine.js';
import type { ApprovalStore, StoredRecord } from './approval-store.js';

/**
 * What a step makes of the record it was given: a transition to write (with the upstream result to keep,
 * when it ends an execution), a refusal, or undefined to leave the record as it is.
 */
export type TransitionPlan = (Transitioned & { result?: CallToolResult }) | Refusal | undefined;

/** Computes a plan from the current record; usually one pure function from the state machine. */
export type TransitionStep = (current: StoredRecord) => TransitionPlan | Promise<TransitionPlan>;

/** How a transition ended; `record` is the one written, or the one the step refused or left alone. */
export type TransitionOutcome =
  | { kind: 'written'; record: StoredRecord }
  | { kind: 'refused'; record: StoredRecord; refusal: Refusal }
  | { kind: 'unchanged'; record: StoredRecord }
  | { kind: 'missing' };

/** Options for {@link RecordTransitions}. */
export interface RecordTransitionsOptions {
  /**
   * Reads (and step runs) per transition before giving up. Each conflict means another writer won, so
   * hitting the bound takes a burst of concurrent votes on one request, not bad luck. @defaultValue 50
   */
  maxAttempts?: number;
}

/**
 * The one way an approval record changes: read it, let a step compute the next record, write it only if
 * nobody wrote in between, and on a conflict start over from the fresh record.
 */
export class RecordTransitions {
  /** Attempts per transition; see {@link RecordTransitionsOptions.maxAttempts}. */
  readonly maxAttempts: number;

  constructor(
    private readonly store: ApprovalStore,
    options: RecordTransitionsOptions = {},
  ) {
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 50);
  }

  /**
   * Applies `step` to request `id` until one write lands or the step declines. `from` is a record the
   * caller just read or wrote, used for the first attempt instead of reading it again. Throws
   * QUEUE_UNAVAILABLE (retryable) when every attempt lost to another writer.
   */
  async apply(id: string, step: TransitionStep, from?: StoredRecord): Promise<TransitionOutcome> {
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const current = attempt === 0 && from ? from : await this.store.get(id);
      if (!current) return { kind: 'missing' };
      const plan = await step(current);
      if (!plan) return { kind: 'unchanged', record: current };
      if (!plan.ok) return { kind: 'refused', record: current, refusal: plan };
      const written = await this.store.compareAndSet(current, plan.record, plan.result);
      if (written) return { kind: 'written', record: written };
    }
    throw new AirlockError(
      'QUEUE_UNAVAILABLE',
      `Request ${id} is too contended: ${this.maxAttempts} concurrent updates won over this one; try again`,
      { requestId: id },
    );
  }
}
