/** Every protocol revision Airlock serves, newest first; `server/discover` and -32022 both list exactly these. */
export const SUPPORTED_PROTOCOL_VERSIONS = ['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26'] as const;

/** One revision Airlock serves. */
export type ProtocolVersion = (typeof SUPPORTED_PROTOCOL_VERSIONS)[number];

/** The first revision with the per-request envelope; every later revision is modern too. */
export const FIRST_MODERN_PROTOCOL_VERSION = '2026-07-28';

/** The modern revisions Airlock serves statelessly, per request. */
export const MODERN_PROTOCOL_VERSIONS: readonly ProtocolVersion[] = SUPPORTED_PROTOCOL_VERSIONS.filter(
  (v) => v >= FIRST_MODERN_PROTOCOL_VERSION,
);

/** The handshake revisions Airlock serves through `initialize` and sessions, newest first. */
export const LEGACY_PROTOCOL_VERSIONS: readonly ProtocolVersion[] = SUPPORTED_PROTOCOL_VERSIONS.filter(
  (v) => v < FIRST_MODERN_PROTOCOL_VERSION,
);

/** The revision a 2025 client gets when it sends no `MCP-Protocol-Version` header after `initialize`. */
export const DEFAULT_LEGACY_PROTOCOL_VERSION: ProtocolVersion = '2025-03-26';

/** True for a revision Airlock serves, in either era. */
export function isSupportedProtocolVersion(version: unknown): version is ProtocolVersion {
  return typeof version === 'string' && (SUPPORTED_PROTOCOL_VERSIONS as readonly string[]).includes(version);
}

/**
 * True when a version string names the modern era, served or not. Revisions are dates, so they sort as
 * strings; an unknown future revision (or garbage such as `v999.0.0`) counts as modern, which is what
 * makes a header naming it a modern claim that must come with an envelope.
 */
export function namesModernEra(version: string): boolean {
  return version >= FIRST_MODERN_PROTOCOL_VERSION;
}

/** The revision a legacy `initialize` settles on: the one asked for when served, else our newest legacy one. */
export function negotiateLegacyVersion(requested: unknown): ProtocolVersion {
  const served = LEGACY_PROTOCOL_VERSIONS.find((v) => v === requested);
  return served ?? LEGACY_PROTOCOL_VERSIONS[0] ?? DEFAULT_LEGACY_PROTOCOL_VERSION;
}
