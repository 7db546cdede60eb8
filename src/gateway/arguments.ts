import { MAX_JSON_DEPTH } from '../core/canonical-json.js';
import { AirlockError } from '../core/errors.js';

/** Largest serialized arguments accepted (the HTTP transport refuses larger bodies first). */
export const MAX_ARGUMENT_BYTES = 4 * 1024 * 1024;

/**
 * Checks that tool arguments are a plain JSON object of sane depth and size, without recursion,
 * so hostile input cannot overflow the stack anywhere later.
 */
export function validateArguments(args: unknown): Record<string, unknown> {
  if (args === undefined || args === null) return {};
  if (typeof args !== 'object' || Array.isArray(args)) {
    throw new AirlockError('BAD_REQUEST', 'Tool arguments must be a JSON object.');
  }
  const stack: [unknown, number][] = [[args, 1]];
  let budget = MAX_ARGUMENT_BYTES;
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v === 'string') budget -= v.length;
    else budget -= 8;
    if (budget < 0) {
      throw new AirlockError('BAD_REQUEST', `Tool arguments exceed ${MAX_ARGUMENT_BYTES} bytes.`);
    }
    if (v && typeof v === 'object') {
      if (depth > MAX_JSON_DEPTH) {
        throw new AirlockError(
          'BAD_REQUEST',
          `Tool arguments are nested deeper than ${MAX_JSON_DEPTH} levels.`,
        );
      }
      for (const [k, x] of Object.entries(v)) {
        budget -= k.length;
        stack.push([x, depth + 1]);
      }
    }
  }
  return args as Record<string, unknown>;
}
