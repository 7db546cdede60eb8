// The wire-level helpers of the direct HTTP leg (direct-http.ts): reading an answer's body and headers,
// the SDK's error classes for what an upstream answered, and the header encodings of the revision.
import { ProtocolError } from '@modelcontextprotocol/client';
import type { Pool } from 'undici';
import { isPlainObject } from './modern-result.js';

/** The most of one answer (a JSON body, or one event of a stream) Airlock reads before giving up on it. */
export const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

/** A response body of the leg's pool. */
export type Body = Awaited<ReturnType<Pool['request']>>['body'];

export function toProtocolError(error: unknown): ProtocolError {
  const e = isPlainObject(error) ? error : {};
  const code = typeof e['code'] === 'number' ? e['code'] : -32603;
  const message = typeof e['message'] === 'string' ? e['message'] : 'Internal error';
  return ProtocolError.fromError(code, message, e['data']);
}

/** The JSON-RPC error a 400 body carries for request `id`, if it is one. */
export function rpcErrorFor(text: string, id: number): ProtocolError | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    if (isPlainObject(parsed) && isPlainObject(parsed['error']) && Number(parsed['id']) === id) {
      return toProtocolError(parsed['error']);
    }
  } catch {
    // Not JSON: the HTTP error it is.
  }
  return undefined;
}

/** The body as text, refusing one that is (or says it will be) larger than MAX_ANSWER_BYTES. */
export async function readText(body: Body, headers: Record<string, unknown>): Promise<string> {
  const tooLarge = () => new Error(`answered with more than ${MAX_ANSWER_BYTES} bytes`);
  if (Number(headers['content-length']) > MAX_ANSWER_BYTES) {
    body.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > MAX_ANSWER_BYTES) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** `type/subtype` of a Content-Type header, lowercased; undefined when there is none. */
export function mediaType(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const essence = value?.split(';', 1)[0]?.trim().toLowerCase();
  return essence ? essence : undefined;
}

/** The configured Accept's media types plus `required`, each once, as the SDK transport merges them. */
export function mergeAccept(configured: string | undefined, required: string[]): string {
  const types = (configured?.split(',') ?? []).map((t) => t.trim().toLowerCase()).filter((t) => t !== '');
  return [...new Set([...types, ...required])].join(', ');
}

/**
 * A header carries a value as it is only when it is plain printable ASCII without edge spaces; anything
 * else goes base64-encoded between the revision's `=?base64?` … `?=` markers.
 */
export function headerValue(value: string): string {
  const plain =
    value !== '' &&
    value === value.trim() &&
    /^[\t\x20-\x7e]*$/.test(value) &&
    !(value.startsWith('=?base64?') && value.endsWith('?='));
  return plain ? value : `=?base64?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

/** True for the socket failing under a stream (as opposed to what the upstream sent on it). */
export function isDropped(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^(ECONNRESET|EPIPE|UND_ERR_SOCKET|UND_ERR_ABORTED)$/.test(code);
}

/** The start of something an upstream sent, for an error message. */
export function excerpt(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
