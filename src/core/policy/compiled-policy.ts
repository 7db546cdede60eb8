import type { ArgsPredicate } from './conditions.js';
import type { ApprovalSpec, LimitSpec, PolicyAction, PolicyMode, TaskMode } from './types.js';

/** A decision prepared at load time; only the `<server>/` prefix of its rule is added per call. */
export interface Outcome {
  readonly action: PolicyAction;
  /** The rule id without the server, e.g. `start_vm`, `capture#when[0]`, `default`. */
  readonly rule: string;
  readonly reason?: string;
  /** Already includes the policy-wide limits; empty for deny. */
  readonly limits: readonly LimitSpec[];
  readonly approval?: ApprovalSpec;
  /** Only on allow outcomes. */
  readonly task?: TaskMode;
  /** Only with `task`: `task_after` in milliseconds. */
  readonly taskAfterMs?: number;
}

/** A hard constraint checked before `when` rules (PolicyLayer `require` / `deny_if`, Intercept `rules`). */
export interface Guard {
  readonly rule: string;
  /** True when the call must be denied. */
  readonly denies: ArgsPredicate;
  readonly reason: string;
  /** Denies whatever the arguments (Intercept `action: deny`). */
  readonly unconditional: boolean;
}

/** One `when` rule; an absent test always holds. */
export interface CompiledRule {
  readonly agents?: (agent: string) => boolean;
  readonly args?: ArgsPredicate;
  readonly outcome: Outcome;
}

/** One `tools` entry. */
export interface CompiledEntry {
  readonly key: string;
  readonly guards: readonly Guard[];
  readonly rules: readonly CompiledRule[];
  readonly outcome: Outcome;
  /** The entry's own `mode`; undefined: the file's. */
  readonly mode?: PolicyMode;
}

/** A validated policy file, compiled for fast evaluation; immutable. */
export interface CompiledPolicy {
  /** The file it came from, for messages. */
  readonly file: string;
  readonly defaultAction: PolicyAction;
  /** The file's `mode`, for every tool whose entry sets none. */
  readonly mode: PolicyMode;
  /** The file's content as parsed (JSON value), for display. */
  readonly raw: unknown;
  readonly exact: ReadonlyMap<string, CompiledEntry>;
  /** Glob entries, most specific first; the first match wins. */
  readonly globs: readonly {
    readonly key: string;
    readonly match: (tool: string) => boolean;
    readonly entry: CompiledEntry;
  }[];
  readonly hidden: (tool: string) => boolean;
  /** Guards that apply to every tool (Intercept `"*"` rules). */
  readonly globalGuards: readonly Guard[];
  /** What an unlisted tool gets; a default deny's reason is written per call. */
  readonly defaultOutcome: Outcome;
}
