import { argumentHash } from '../core/approval/canonical.js';
import { redactForDisplay } from '../core/redact.js';
import type { CallOutcome } from '../gateway/gateway.js';
import type { DecisionRecord, DirectStatus } from './history-record.js';

/** Largest display copy of arguments kept in a direct-decision record, in characters of JSON. */
export const MAX_DISPLAY_ARGS_CHARS = 16 * 1024;

/** The key under which a too-large display copy keeps its truncated JSON preview. */
export const TRUNCATED_ARGS_KEY = '[truncated]';

/** Longest tool name kept; an unknown tool's name is whatever the agent sent. */
const MAX_TOOL_CHARS = 200;
const MAX_REASON_CHARS = 1000;

/**
 * The history record of a call policy decided directly, or undefined for held calls (their approval
 * record is the history). `finishedAt` is when the outcome was reported, i.e. when the agent was answered.
 */
export function decisionRecordOf(o: CallOutcome, finishedAt: number): DecisionRecord | undefined {
  if (o.outcome === 'held' || o.held) return undefined;
  const status: DirectStatus = o.outcome;
  const createdAt = Math.round(finishedAt - o.durationMs);
  const record: DecisionRecord = {
    id: o.requestId,
    createdAt,
    server: o.server,
    tool: cap(o.tool, MAX_TOOL_CHARS),
    agent: o.agent,
    args: {},
    rule: o.rule,
    status,
    responseMs: Math.round(o.durationMs),
    version: 1,
  };
  if (o.args) {
    Object.assign(record, displayArgs(o.args));
    try {
      record.argsHash = argumentHash(o.server, o.tool, o.args);
    } catch {
      // Arguments that cannot be hashed canonically were refused before reaching upstream; no hash to show.
    }
  }
  if (o.code) record.code = o.code;
  if (o.reason) record.reason = cap(o.reason, MAX_REASON_CHARS);
  if (o.counter) record.counter = o.counter;
  if (o.retryAfter !== undefined) record.retryAfter = o.retryAfter;
  if (o.grant) record.grant = o.grant;
  if (o.shadow)
    record.shadow = {
      ...o.shadow,
      ...(o.shadow.reason ? { reason: cap(o.shadow.reason, MAX_REASON_CHARS) } : {}),
    };
  if (status === 'allowed') {
    const upstreamMs = o.upstreamMs ?? o.durationMs;
    record.execution = {
      startedAt: Math.round(finishedAt - upstreamMs),
      finishedAt: Math.round(finishedAt),
      isError: Boolean(o.isError),
    };
  }
  return record;
}

/** A redacted display copy of arguments, replaced by a truncated JSON preview when it is too large. */
export function displayArgs(args: Record<string, unknown>): Pick<DecisionRecord, 'args' | 'argsTruncated'> {
  const display = redactForDisplay(args) as Record<string, unknown>;
  const json = JSON.stringify(display);
  if (json.length <= MAX_DISPLAY_ARGS_CHARS) return { args: display };
  return { args: { [TRUNCATED_ARGS_KEY]: `${json.slice(0, MAX_DISPLAY_ARGS_CHARS)}…` }, argsTruncated: true };
}

function cap(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
