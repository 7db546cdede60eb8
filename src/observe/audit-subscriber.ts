import type { EventEmitter } from 'node:events';
import type { AuditWriter } from '../audit/index.js';
import type { ApprovalService } from '../approval/approval-service.js';
import type { PolicyStore } from '../policy/policy-store.js';
import type { CallOutcome } from '../gateway/gateway.js';
import type { GrantService } from '../grants/grant-service.js';
import type { Grant } from '../core/grants/grant.js';
import { argumentHash } from '../core/approval/canonical.js';

/** Sources of auditable events, all optional so stdio mode and tests can wire what they have. */
export interface AuditSources {
  outcomes: EventEmitter<{ outcome: [CallOutcome] }>;
  approvals: ApprovalService;
  policies: PolicyStore;
  grants?: GrantService;
}

/**
 * Turns what happens in the gateway into audit lines: direct decisions, every step of an approval,
 * policy reloads. `append` never throws into these emitters (the audit log retries and counts failures).
 */
export function subscribeAudit(audit: AuditWriter, s: AuditSources): void {
  const log = (e: Parameters<AuditWriter['record']>[0]) => audit.record(e);

  s.outcomes.on('outcome', (o) => {
    const base = { requestId: o.requestId, server: o.server, tool: o.tool, agent: o.agent, rule: o.rule };
    if (o.outcome === 'allowed' && o.grant) {
      const { rule, ...call } = base;
      log({ event: 'grant.used', grantId: o.grant, ...call, rule, ...hashOf(o) });
    } else if (o.outcome === 'allowed')
      log({ event: 'policy.allowed', ...base, ...(o.shadow ? { shadow: o.shadow } : {}) });
    else if (o.outcome === 'denied')
      log({ event: 'policy.denied', ...base, ...(o.reason ? { reason: o.reason } : {}) });
    else if (o.outcome === 'rate_limited') {
      log({ event: 'rate_limited', ...base, counter: o.counter ?? '', retryAfter: o.retryAfter ?? 0 });
    }
  });

  s.approvals.on('created', (r) =>
    log({
      event: 'request.created',
      requestId: r.id,
      server: r.server,
      tool: r.tool,
      agent: r.agent,
      argsHash: r.argsHash,
      rule: r.rule,
      action: 'require_approval',
    }),
  );
  s.approvals.on('decided', (r, d) =>
    log({
      event: 'decision',
      requestId: r.id,
      by: d.by,
      via: d.via,
      decision: d.decision,
      ...(d.reason ? { reason: d.reason } : {}),
      ...(d.editedHash && r.edited ? { argsHash: r.argsHash, originalHash: r.edited.originalHash } : {}),
    }),
  );
  s.approvals.on('refused', (id, input, err) =>
    log({
      event: 'decision.refused',
      requestId: id,
      by: input.reviewerId ?? (input.slackUserId ? `slack:${input.slackUserId}` : 'unknown'),
      via: input.via,
      code: err.code,
      message: err.message,
    }),
  );
  s.approvals.on('expired', (r) => log({ event: 'request.expired', requestId: r.id }));
  s.approvals.on('cancelled', (r) =>
    log({ event: 'request.cancelled', requestId: r.id, ...(r.reason ? { reason: r.reason } : {}) }),
  );
  s.approvals.on('reminded', (r, n) => log({ event: 'request.reminded', requestId: r.id, n }));
  s.approvals.on('escalated', (r, step) => {
    const e = r.escalations?.find((x) => x.step === step);
    log({
      event: 'request.escalated',
      requestId: r.id,
      step,
      approvers: e?.approvers ?? [],
      ...(e?.channel ? { channel: e.channel } : {}),
    });
  });
  s.approvals.on('executing', (r) => log({ event: 'execution.started', requestId: r.id }));
  s.approvals.on('executed', (r) =>
    log({
      event: 'execution.finished',
      requestId: r.id,
      isError: Boolean(r.execution?.isError),
      durationMs: (r.execution?.finishedAt ?? 0) - (r.execution?.startedAt ?? 0),
      ...(r.execution?.summary ? { summary: r.execution.summary } : {}),
    }),
  );

  const grantBase = (g: Grant) => ({ grantId: g.id, server: g.server, tool: g.tool, agent: g.agent });
  s.grants?.on('created', (g) =>
    log({
      event: 'grant.created',
      ...grantBase(g),
      requestId: g.requestId,
      scope: g.scope,
      ...(g.argsHash ? { argsHash: g.argsHash } : {}),
      grantedBy: g.grantedBy,
      expiresAt: new Date(g.expiresAt).toISOString(),
    }),
  );
  s.grants?.on('revoked', (g, by) => log({ event: 'grant.revoked', ...grantBase(g), by }));
  s.grants?.on('revokeRefused', (g, by, via, refusal) =>
    log({
      event: 'grant.revoke_refused',
      ...grantBase(g),
      by,
      via,
      code: refusal.code,
      message: refusal.message,
    }),
  );
  s.grants?.on('expired', (g) => log({ event: 'grant.expired', ...grantBase(g), uses: g.uses }));

  s.policies.on('reload', (e) =>
    log({ event: 'policy.reloaded', server: e.server, file: e.file, sha256: e.sha256 }),
  );
  s.policies.on('invalid', (e) =>
    log({
      event: 'policy.invalid',
      file: e.file,
      issues: e.issues.map((i) => ({ path: i.path, message: i.message })),
    }),
  );
}

// The audit binds a granted call to its arguments by hash, as it does for approvals.
function hashOf(o: CallOutcome): { argsHash?: string } {
  try {
    return o.args ? { argsHash: argumentHash(o.server, o.tool, o.args) } : {};
  } catch {
    return {};
  }
}
