// A 2026-07-28 upstream's result as the SDK client decodes it in that era: `resultType` is required,
// `complete` results lose it, `input_required` ones keep their questions and state, anything else is
// refused. Shared by the direct HTTP path so that its callers see what the SDK path gives them.
import { SdkError, SdkErrorCode } from '@modelcontextprotocol/client';

/** True for a non-null, non-array object. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The result of `method` as the caller gets it: a complete result without its `resultType`, or an
 * `input_required` one (`resultType`, `inputRequests`, `requestState`, `_meta`). Throws the SDK's
 * InvalidResult / UnsupportedResultType errors for anything else.
 */
export function decodeModernResult(method: string, raw: unknown): Record<string, unknown> {
  const invalid = (why: string) =>
    new SdkError(SdkErrorCode.InvalidResult, `Invalid result for ${method}: ${why}`, { method });
  if (!isPlainObject(raw)) throw invalid('not an object');
  const type = raw['resultType'];
  if (type === undefined) throw invalid('missing required resultType');
  if (typeof type !== 'string') throw invalid('non-string resultType');
  if (type === 'input_required') {
    const inputRequests = isPlainObject(raw['inputRequests']) ? raw['inputRequests'] : {};
    const requestState = raw['requestState'];
    if (Object.keys(inputRequests).length === 0 && typeof requestState !== 'string') {
      throw invalid('input_required carries neither inputRequests nor requestState');
    }
    return {
      resultType: 'input_required',
      inputRequests,
      ...(typeof requestState === 'string' && { requestState }),
      ...(isPlainObject(raw['_meta']) && { _meta: raw['_meta'] }),
    };
  }
  if (type !== 'complete') {
    throw new SdkError(
      SdkErrorCode.UnsupportedResultType,
      `Unsupported result type '${type}' for ${method}`,
      {
        resultType: type,
        method,
      },
    );
  }
  const { resultType: _type, ...result } = raw;
  return result;
}
