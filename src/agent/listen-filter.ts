// The filter of a `subscriptions/listen` request: which list changes, resource updates and task status
// changes a stream carries.
import { TASKS_EXTENSION } from '../core/tasks/index.js';
import { isJsonObject, type JsonObject } from './wire/envelope.js';
import { invalidParams, missingRequiredClientCapability, type WireError } from './wire/errors.js';

/** What a client asks to hear, and (in the acknowledgement) what Airlock agreed to. */
export interface ListenFilter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
  resourceSubscriptions?: string[];
  /** Tasks whose status changes the client hears as `notifications/tasks` (tasks extension). */
  taskIds?: string[];
}

/** Most URIs one stream may subscribe to; more is refused as invalid params. @defaultValue 1000 */
export const MAX_RESOURCE_SUBSCRIPTIONS = 1000;

/** Most tasks one stream may follow; more is refused as invalid params. @defaultValue 1000 */
export const MAX_TASK_IDS = 1000;

/**
 * Reads a listen request's filter; a message naming what is wrong when it is malformed, and the error to
 * answer. Unknown filter keys (another extension's, say) are ignored rather than refused. `taskIds` need
 * the tasks extension declared on the request (`tasksDeclared`): -32021 otherwise.
 */
export function parseListenFilter(
  params: JsonObject,
  tasksDeclared = false,
): { ok: true; filter: ListenFilter } | { ok: false; message: string; error: WireError } {
  const parsed = readFilter(params);
  if (!parsed.ok) return { ...parsed, error: invalidParams(parsed.message) };
  if (parsed.filter.taskIds !== undefined && !tasksDeclared) {
    const message = `notifications.taskIds needs the ${TASKS_EXTENSION} extension declared in the request's client capabilities`;
    const error = missingRequiredClientCapability({ extensions: { [TASKS_EXTENSION]: {} } });
    return { ok: false, message, error: { ...error, message } };
  }
  return parsed;
}

function readFilter(params: JsonObject): { ok: true; filter: ListenFilter } | { ok: false; message: string } {
  const raw = params['notifications'];
  if (raw === undefined) return { ok: true, filter: {} };
  if (!isJsonObject(raw)) return { ok: false, message: 'notifications must be an object' };
  const filter: ListenFilter = {};
  for (const key of ['toolsListChanged', 'promptsListChanged', 'resourcesListChanged'] as const) {
    const v = raw[key];
    if (v === undefined) continue;
    if (typeof v !== 'boolean') return { ok: false, message: `notifications.${key} must be a boolean` };
    if (v) filter[key] = true;
  }
  const uris = raw['resourceSubscriptions'];
  if (uris !== undefined) {
    if (!Array.isArray(uris) || !uris.every((u) => typeof u === 'string' && u !== '')) {
      return { ok: false, message: 'notifications.resourceSubscriptions must be an array of URIs' };
    }
    if (uris.length > MAX_RESOURCE_SUBSCRIPTIONS) {
      return {
        ok: false,
        message: `notifications.resourceSubscriptions may name at most ${MAX_RESOURCE_SUBSCRIPTIONS} URIs`,
      };
    }
    filter.resourceSubscriptions = [...new Set(uris as string[])];
  }
  const ids = raw['taskIds'];
  if (ids !== undefined) {
    if (!Array.isArray(ids) || !ids.every((t) => typeof t === 'string' && t !== '')) {
      return { ok: false, message: 'notifications.taskIds must be an array of task ids' };
    }
    if (ids.length > MAX_TASK_IDS) {
      return { ok: false, message: `notifications.taskIds may name at most ${MAX_TASK_IDS} tasks` };
    }
    filter.taskIds = [...new Set(ids as string[])];
  }
  return { ok: true, filter };
}
