// The one way Airlock writes a duration for people (messages, Slack, CLI tables, policy explain):
// at most the two largest units, in the unit letters policy files use. Below 10 s a tenth of a second
// still tells a fast call from a slow one; above, it is noise.

/** A human duration: `850ms`, `1.5s`, `45s`, `14m 20s`, `1h 5m`, `2d 3h`. */
export function humanDuration(ms: number): string {
  const exact = Math.max(0, Math.round(ms));
  if (exact < 1000) return `${exact}ms`;
  if (exact < 10_000) return `${Number((exact / 1000).toFixed(1))}s`;
  const s = Math.round(exact / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m}m ${s % 60}s` : `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}
