/** What an enforced policy would have done to a call that shadow mode let run; `allowed` is not recorded. */
export const SHADOW_WOULD = ['denied', 'rate_limited', 'held'] as const;

/** One of {@link SHADOW_WOULD}. */
export type ShadowWould = (typeof SHADOW_WOULD)[number];

/** Kept on a shadowed call's outcome, history record and audit line. */
export interface ShadowVerdict {
  would: ShadowWould;
  /** The rule that would have decided, e.g. `lab/delete_*`. */
  rule: string;
  /** The policy's reason (denied) or the limit that would have refused the call (rate limited). */
  reason?: string;
}
