/*
 * The policy engine: pure functions from a policy file's content and a call to a decision.
 * No I/O here; reading and watching files is src/policy/.
 */
export type { CompiledPolicy, CompiledEntry, CompiledRule, Guard, Outcome } from './compiled-policy.js';
export { parsePolicy } from './compile.js';
export { parsePolicyText, parseText, isPolicyFileName } from './parse-text.js';
export { evaluate, isDeniedOutright, findEntry, possibleOutcomes } from './evaluate.js';
export { taskSupportOf } from './task-support.js';
export { TASK_MODES } from './types.js';
export { parseDuration, tryParseDuration, parseWindow, tryParseWindow } from './duration.js';
export { PolicyError } from './policy-error.js';
export { MAX_REGEX_INPUT, CONDITION_OPS, type ConditionOp } from './conditions.js';
export { DEFAULT_TIMEOUT_MS, DEFAULT_WAIT_MS } from './schema.js';
export type * from './types.js';
export { SHADOW_WOULD, type ShadowWould, type ShadowVerdict } from './shadow.js';
