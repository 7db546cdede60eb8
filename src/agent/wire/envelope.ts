// The 2026-07-28 per-request envelope (`params._meta`) and the standard headers that mirror the body.
// Order of checks, as the conformance suite observes it: the envelope's required keys (-32602) come first,
// because without them the request is not modern at all; then every mirrored header against the body
// (-32020); only then whether we serve the version (-32022) — a header saying 2026-07-28 over a body
// saying v999.0.0 is a mismatch, not an unsupported version.
import {
  headerMismatch,
  invalidParams,
  invalidRequest,
  unsupportedProtocolVersion,
  type JsonRpcId,
  type WireError,
} from './errors.js';
import { decodeHeaderValue, readHeader, type HeaderMap } from './headers.js';
import { MODERN_PROTOCOL_VERSIONS } from './supported-versions.js';

/** The reserved `_meta` keys of the envelope. */
export const META_KEYS = {
  protocolVersion: 'io.modelcontextprotocol/protocolVersion',
  clientCapabilities: 'io.modelcontextprotocol/clientCapabilities',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  logLevel: 'io.modelcontextprotocol/logLevel',
} as const;

/** The tasks extension's identifier under `capabilities.extensions`. */
export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

/** Log levels a request may opt in to, least severe first. */
export const LOG_LEVELS = [
  'debug',
  'info',
  'notice',
  'warning',
  'error',
  'critical',
  'alert',
  'emergency',
] as const;

/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A JSON object as it came off the wire. */
export type JsonObject = Readonly<Record<string, unknown>>;

/** Client capabilities as declared for one request; unknown slots are kept for forwarding. */
export interface ClientCapabilities extends JsonObject {
  readonly experimental?: Readonly<Record<string, JsonObject>>;
  readonly sampling?: JsonObject;
  readonly elicitation?: JsonObject;
  readonly roots?: { readonly listChanged?: boolean };
  readonly extensions?: Readonly<Record<string, JsonObject>>;
}

/** The client software, self-reported: for display and logs, never for decisions. */
export interface ClientInfo extends JsonObject {
  readonly name: string;
  readonly version: string;
}

/** What the envelope of one modern request says. */
export interface RequestEnvelope {
  readonly protocolVersion: string;
  readonly clientCapabilities: ClientCapabilities;
  readonly clientInfo?: ClientInfo;
  /** Absent: no `notifications/message` may be sent for this request. */
  readonly logLevel?: LogLevel;
  readonly progressToken?: string | number;
  /** The whole `_meta`, for keys such as `traceparent` that are forwarded untouched. */
  readonly meta: JsonObject;
}

/** A modern request that passed every envelope and header check. */
export interface ModernRequest {
  /** Absent for a notification. */
  readonly id?: JsonRpcId;
  readonly method: string;
  readonly params: JsonObject;
  readonly envelope: RequestEnvelope;
}

/** Success with a value, or the wire error to answer with. */
export type Checked<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: WireError };

/** Which body field `Mcp-Name` mirrors, per method (SEP-2243; the tasks rows from SEP-2663). */
const MCP_NAME_SOURCE: Readonly<Record<string, 'name' | 'uri' | 'taskId'>> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
  'tasks/get': 'taskId',
  'tasks/update': 'taskId',
  'tasks/cancel': 'taskId',
};

/** True for a non-null, non-array object. */
export function isJsonObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The request's `params._meta` when both are objects. */
export function metaOf(params: unknown): JsonObject | undefined {
  if (!isJsonObject(params)) return undefined;
  const meta = params['_meta'];
  return isJsonObject(meta) ? meta : undefined;
}

/**
 * True when the body claims the modern era: `_meta` holds the protocol-version key, whatever its value
 * (a malformed claim is still a claim, and is answered -32602 rather than treated as legacy).
 */
export function hasEnvelopeClaim(params: unknown): boolean {
  const meta = metaOf(params);
  return meta !== undefined && Object.hasOwn(meta, META_KEYS.protocolVersion);
}

/** The body field `Mcp-Name` mirrors for `method`, or undefined when the method has none. */
export function mcpNameSource(method: string): 'name' | 'uri' | 'taskId' | undefined {
  return Object.hasOwn(MCP_NAME_SOURCE, method) ? MCP_NAME_SOURCE[method] : undefined;
}

/** Reads and checks the envelope in `params`; every failure is -32602 naming the offending key. */
export function parseEnvelope(params: unknown): Checked<RequestEnvelope> {
  const fail = (detail: string, key: string, problem: string): Checked<RequestEnvelope> => ({
    ok: false,
    error: invalidParams(detail, { envelope: { key, problem } }),
  });
  if (!isJsonObject(params)) return fail('params must be an object carrying _meta', 'params', 'missing');
  if (!Object.hasOwn(params, '_meta')) return fail('the request has no _meta envelope', '_meta', 'missing');
  const meta = params['_meta'];
  if (!isJsonObject(meta)) return fail('_meta must be an object', '_meta', 'not an object');

  const missing = [META_KEYS.protocolVersion, META_KEYS.clientCapabilities].filter(
    (k) => !Object.hasOwn(meta, k),
  );
  if (missing.length > 0) {
    return {
      ok: false,
      error: invalidParams(`_meta is missing ${missing.join(', ')}`, { envelope: { missing } }),
    };
  }
  const version = meta[META_KEYS.protocolVersion];
  if (typeof version !== 'string' || version === '') {
    return fail(
      `${META_KEYS.protocolVersion} must be a non-empty string`,
      META_KEYS.protocolVersion,
      'not a string',
    );
  }
  const capabilities = meta[META_KEYS.clientCapabilities];
  const capabilityProblem = checkCapabilities(capabilities);
  if (capabilityProblem !== undefined) {
    return fail(
      `${META_KEYS.clientCapabilities}: ${capabilityProblem}`,
      META_KEYS.clientCapabilities,
      capabilityProblem,
    );
  }
  const info = meta[META_KEYS.clientInfo];
  if (info !== undefined && !isClientInfo(info)) {
    return fail(`${META_KEYS.clientInfo} needs string name and version`, META_KEYS.clientInfo, 'invalid');
  }
  const level = meta[META_KEYS.logLevel];
  if (level !== undefined && !(LOG_LEVELS as readonly unknown[]).includes(level)) {
    return fail(
      `${META_KEYS.logLevel} must be one of ${LOG_LEVELS.join(', ')}`,
      META_KEYS.logLevel,
      'invalid',
    );
  }
  const token = meta['progressToken'];
  if (token !== undefined && typeof token !== 'string' && !Number.isInteger(token)) {
    return fail('progressToken must be a string or an integer', 'progressToken', 'invalid');
  }
  return {
    ok: true,
    value: {
      protocolVersion: version,
      clientCapabilities: capabilities as ClientCapabilities,
      ...(info !== undefined && { clientInfo: info as ClientInfo }),
      ...(level !== undefined && { logLevel: level as LogLevel }),
      ...(token !== undefined && { progressToken: token as string | number }),
      meta,
    },
  };
}

/**
 * Compares `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` with the body. Requests must carry all
 * that apply; a notification's headers are not required by the revision, but when sent they must agree.
 */
export function validateStandardHeaders(
  method: string,
  params: JsonObject,
  envelope: RequestEnvelope,
  headers: HeaderMap,
  isNotification = false,
): WireError | undefined {
  const version = readHeader(headers, 'MCP-Protocol-Version');
  const versionProblem = compareHeader(
    'MCP-Protocol-Version',
    version,
    envelope.protocolVersion,
    isNotification,
  );
  if (versionProblem) return versionProblem;

  const methodProblem = compareHeader(
    'Mcp-Method',
    readHeader(headers, 'Mcp-Method'),
    method,
    isNotification,
  );
  if (methodProblem) return methodProblem;

  const source = mcpNameSource(method);
  if (source === undefined) return undefined;
  const bodyName = params[source];
  // A missing or non-string name is a params error the dispatcher reports; there is nothing to mirror.
  if (typeof bodyName !== 'string') return undefined;
  const name = readHeader(headers, 'Mcp-Name');
  if (name.state === 'present') {
    const decoded = decodeHeaderValue(name.value);
    if (!decoded.ok) {
      return headerMismatch('Mcp-Name carries an invalid base64 value', {
        header: 'Mcp-Name',
        expected: bodyName,
      });
    }
    return compareHeader('Mcp-Name', { state: 'present', value: decoded.value }, bodyName, isNotification);
  }
  return compareHeader('Mcp-Name', name, bodyName, isNotification);
}

/** -32022 unless the envelope names a revision we serve per request (not a legacy one: those need initialize). */
export function checkProtocolVersion(
  envelope: RequestEnvelope,
  served: readonly string[] = MODERN_PROTOCOL_VERSIONS,
): WireError | undefined {
  return served.includes(envelope.protocolVersion)
    ? undefined
    : unsupportedProtocolVersion(envelope.protocolVersion);
}

/**
 * Every check of one modern message, in the order the conformance suite expects. `headers` is absent on
 * stdio, which has no header layer. `Mcp-Param-*` is checked later, once the tool's schema is known
 * (see param-headers.ts).
 */
export function validateModernRequest(message: unknown, headers?: HeaderMap): Checked<ModernRequest> {
  if (!isJsonObject(message) || typeof message['method'] !== 'string') {
    return { ok: false, error: invalidRequest('expected a JSON-RPC request object') };
  }
  const method = message['method'];
  const isNotification = !Object.hasOwn(message, 'id');
  const envelope = parseEnvelope(message['params']);
  if (!envelope.ok) return envelope;
  const params = message['params'] as JsonObject;
  if (headers !== undefined) {
    const problem = validateStandardHeaders(method, params, envelope.value, headers, isNotification);
    if (problem) return { ok: false, error: problem };
  }
  const unsupported = checkProtocolVersion(envelope.value);
  if (unsupported) return { ok: false, error: unsupported };
  const id = message['id'];
  return {
    ok: true,
    value: {
      ...(!isNotification && { id: id as JsonRpcId }),
      method,
      params,
      envelope: envelope.value,
    },
  };
}

/** True when the request declared the extension (e.g. {@link TASKS_EXTENSION}) in its capabilities. */
export function declaresExtension(capabilities: ClientCapabilities, extension: string): boolean {
  const extensions = capabilities.extensions;
  return isJsonObject(extensions) && isJsonObject(extensions[extension]);
}

/**
 * The part of `required` that `declared` lacks, as a ClientCapabilities object for -32021's
 * `requiredCapabilities`; undefined when everything is declared.
 */
export function missingClientCapabilities(
  required: ClientCapabilities,
  declared: ClientCapabilities,
): ClientCapabilities | undefined {
  const missing: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(required)) {
    if (key === 'extensions' && isJsonObject(value)) {
      const lacking = Object.fromEntries(
        Object.entries(value).filter(([name]) => !declaresExtension(declared, name)),
      );
      if (Object.keys(lacking).length > 0) missing['extensions'] = lacking;
    } else if (!isJsonObject(declared[key])) {
      missing[key] = value;
    }
  }
  return Object.keys(missing).length > 0 ? missing : undefined;
}

/** -32020 when a required header is missing or unusable, or differs from the body (values are case-sensitive). */
function compareHeader(
  header: string,
  read: ReturnType<typeof readHeader>,
  bodyValue: string,
  optional: boolean,
): WireError | undefined {
  if (read.state === 'absent') {
    return optional ? undefined : headerMismatch(`${header} is required`, { header, expected: bodyValue });
  }
  if (read.state === 'invalid') return headerMismatch(read.reason, { header, expected: bodyValue });
  if (read.value === bodyValue) return undefined;
  return headerMismatch(`${header} header '${read.value}' does not match body value '${bodyValue}'`, {
    header,
    expected: bodyValue,
    received: read.value,
  });
}

/** Shape of the capability slots the revision defines; other slots pass through unchecked. */
function checkCapabilities(value: unknown): string | undefined {
  if (!isJsonObject(value)) return 'must be an object';
  for (const slot of ['sampling', 'elicitation', 'roots', 'experimental', 'extensions']) {
    if (value[slot] !== undefined && !isJsonObject(value[slot])) return `${slot} must be an object`;
  }
  for (const slot of ['experimental', 'extensions']) {
    const map = value[slot];
    if (isJsonObject(map) && !Object.values(map).every(isJsonObject))
      return `every ${slot} entry must be an object`;
  }
  const roots = value['roots'];
  if (
    isJsonObject(roots) &&
    roots['listChanged'] !== undefined &&
    typeof roots['listChanged'] !== 'boolean'
  ) {
    return 'roots.listChanged must be a boolean';
  }
  return undefined;
}

function isClientInfo(value: unknown): boolean {
  return isJsonObject(value) && typeof value['name'] === 'string' && typeof value['version'] === 'string';
}
