/** Days a finished request is kept when `history.retentionDays` is not set. */
export const DEFAULT_RETENTION_DAYS = 90;

/** A retention in days as milliseconds, the unit record TTLs and trimming use. */
export function retentionMs(days: number): number {
  return days * 24 * 60 * 60 * 1000;
}
