import { AirlockError, type AirlockErrorCode } from '../errors.js';
import type { Refusal, RefusalCode } from './state-machine.js';

// A second approval by the same person is "already decided" from their point of view; an execution
// transition refused is a broken invariant, not the caller's fault.
const ERROR_CODE: Record<RefusalCode, AirlockErrorCode> = {
  ALREADY_DECIDED: 'ALREADY_DECIDED',
  DUPLICATE_APPROVAL: 'ALREADY_DECIDED',
  NOT_AN_APPROVER: 'NOT_AN_APPROVER',
  SELF_APPROVAL: 'SELF_APPROVAL',
  EXPIRED: 'APPROVAL_EXPIRED',
  INVALID_TRANSITION: 'INTERNAL',
};

/** The AirlockError a refused transition becomes at an edge (API, CLI); `details.refusal` keeps the precise code. */
export function refusalToError(refusal: Refusal): AirlockError {
  return new AirlockError(ERROR_CODE[refusal.code], refusal.message, { refusal: refusal.code });
}

/** True for an error {@link refusalToError} made of a rule's refusal (who may decide, and when), not of a broken invariant. */
export function isRefusalError(err: AirlockError): boolean {
  return typeof err.details.refusal === 'string' && !err.internal;
}
