// The audit file: an append-only, hash-chained JSONL log shared by every replica on a host.
export { AuditLog } from './audit-log.js';
export { AuditThread, startAuditWriter, type AuditWriter } from './audit-thread.js';
export { resolveAuditFile, type AuditLogOptions } from './audit-log-options.js';
export { verifyAuditFile, formatVerifyResult, type VerifyResult } from './verify.js';
export { GENESIS_HASH } from './audit-chain.js';
export type * from './audit-events.js';
