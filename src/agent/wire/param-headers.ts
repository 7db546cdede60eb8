// `Mcp-Param-{X}` headers: tool arguments a tool's inputSchema marks with "x-mcp-header": "X".
// Tool schemas come from upstreams, so the scan is bounded and treats anything odd as an invalid tool.
import { headerMismatch, type WireError } from './errors.js';
import { decodeHeaderValue, readHeader, type HeaderMap } from './headers.js';
import { isJsonObject, type JsonObject } from './envelope.js';

/** The schema keyword that marks a mirrored argument. */
export const X_MCP_HEADER = 'x-mcp-header';

/** The primitive types an annotated property may have (`number` is excluded by the spec). */
export type HeaderParamType = 'string' | 'integer' | 'boolean';

/** One argument mirrored into a header. */
export interface HeaderParam {
  /** The chain of `properties` keys from the schema root to the argument. */
  readonly path: readonly string[];
  /** The full header name, `Mcp-Param-` plus the annotation's value as written. */
  readonly header: string;
  readonly type: HeaderParamType;
}

/** The scan of one tool's inputSchema: its mirrored arguments, or why the tool must be dropped. */
export type HeaderParamScan =
  | { readonly ok: true; readonly params: readonly HeaderParam[] }
  | { readonly ok: false; readonly reason: string };

/** Schema nesting beyond this is refused rather than walked. @defaultValue 64 */
export const MAX_SCHEMA_DEPTH = 64;

/** Schema nodes beyond this are refused rather than walked. @defaultValue 20000 */
export const MAX_SCHEMA_NODES = 20_000;

/** RFC 9110 token characters: what a header name may be made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Keywords whose values are instance data, not schemas: an "x-mcp-header" key there is just data. */
const DATA_KEYWORDS = new Set(['const', 'default', 'enum', 'examples']);

/** Strictly decimal, so that `0x2A` or `4e1` never equals 42. */
const DECIMAL = /^-?\d+(?:\.\d+)?$/;

/**
 * Finds the mirrored arguments of a tool. An annotation is valid only on a property reached from the
 * root through `properties` alone, of type string, integer or boolean, with a token name unique without
 * regard to case; one invalid annotation invalidates the whole tool (clients drop such tools).
 */
export function scanHeaderParams(inputSchema: unknown): HeaderParamScan {
  const params: HeaderParam[] = [];
  const seen = new Set<string>();
  let nodes = 0;
  let failure: string | undefined;

  const visit = (node: unknown, path: readonly string[] | undefined, depth: number): void => {
    if (failure !== undefined || node === null || typeof node !== 'object') return;
    nodes += 1;
    if (depth > MAX_SCHEMA_DEPTH || nodes > MAX_SCHEMA_NODES) {
      failure = 'inputSchema is too large or too deep to check for x-mcp-header';
      return;
    }
    if (Array.isArray(node)) {
      for (const item of node) visit(item, undefined, depth + 1);
      return;
    }
    const schema = node as JsonObject;
    if (Object.hasOwn(schema, X_MCP_HEADER)) {
      if (path === undefined || path.length === 0) {
        failure = 'x-mcp-header is only allowed on a property reached through properties';
        return;
      }
      const declared = declare(schema, path, seen);
      if (typeof declared === 'string') {
        failure = declared;
        return;
      }
      params.push(declared);
    }
    for (const [key, value] of Object.entries(schema)) {
      if (key === X_MCP_HEADER || DATA_KEYWORDS.has(key)) continue;
      if (key === 'properties' && path !== undefined && isJsonObject(value)) {
        for (const [name, child] of Object.entries(value)) visit(child, [...path, name], depth + 1);
      } else {
        visit(value, undefined, depth + 1);
      }
    }
  };

  if (!isJsonObject(inputSchema)) return { ok: true, params: [] };
  visit(inputSchema, [], 0);
  return failure === undefined ? { ok: true, params } : { ok: false, reason: failure };
}

/**
 * -32020 when a mirrored argument's header is missing, unusable or different from the body. A null or
 * absent argument expects no header (and one sent anyway is ignored); integers compare numerically.
 */
export function validateParamHeaders(
  params: readonly HeaderParam[],
  args: unknown,
  headers: HeaderMap,
): WireError | undefined {
  for (const param of params) {
    const body = valueAt(args, param.path);
    if (body === undefined || body === null) continue;
    const expected = primitiveToHeader(body);
    // A non-primitive value cannot be mirrored; the arguments' schema check rejects it later.
    if (expected === undefined) continue;
    const read = readHeader(headers, param.header);
    if (read.state === 'absent') {
      return headerMismatch(`${param.header} is required when ${param.path.join('.')} is set`, {
        header: param.header,
        expected,
      });
    }
    if (read.state === 'invalid') return headerMismatch(read.reason, { header: param.header, expected });
    const decoded = decodeHeaderValue(read.value);
    if (!decoded.ok) {
      return headerMismatch(`${param.header} carries an invalid base64 value`, {
        header: param.header,
        expected,
      });
    }
    if (!sameValue(decoded.value, body, expected)) {
      return headerMismatch(
        `${param.header} header '${decoded.value}' does not match body value '${expected}'`,
        {
          header: param.header,
          expected,
          received: decoded.value,
        },
      );
    }
  }
  return undefined;
}

/** A validated declaration, or why it is invalid. */
function declare(schema: JsonObject, path: readonly string[], seen: Set<string>): HeaderParam | string {
  const name = schema[X_MCP_HEADER];
  const where = path.join('.');
  if (typeof name !== 'string' || !TOKEN.test(name)) return `x-mcp-header on ${where} must be a header token`;
  const key = name.toLowerCase();
  if (seen.has(key)) return `x-mcp-header '${name}' is used twice`;
  seen.add(key);
  const type = primitiveType(schema['type']);
  if (type === undefined) return `x-mcp-header on ${where} needs type string, integer or boolean`;
  return { path, header: `Mcp-Param-${name}`, type };
}

/** The single primitive type of a property, allowing a `["string", "null"]`-style nullable form. */
function primitiveType(type: unknown): HeaderParamType | undefined {
  const types = Array.isArray(type) ? type.filter((t) => t !== 'null') : [type];
  const only = types.length === 1 ? types[0] : undefined;
  return only === 'string' || only === 'integer' || only === 'boolean' ? only : undefined;
}

function valueAt(root: unknown, path: readonly string[]): unknown {
  let node = root;
  for (const key of path) {
    if (!isJsonObject(node) || !Object.hasOwn(node, key)) return undefined;
    node = node[key];
  }
  return node;
}

/** The header form of a body value: strings as is, integers in decimal, booleans in lower case. */
function primitiveToHeader(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

function sameValue(header: string, body: unknown, expected: string): boolean {
  if (typeof body === 'number') return DECIMAL.test(header) && Number(header) === body;
  return header === expected;
}
