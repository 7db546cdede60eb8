/** Which protocol eras the conformance upstream serves. */
export type UpstreamMode = 'dual' | 'modern' | 'legacy';

/** Every mode, for argument checking. */
export const UPSTREAM_MODES: readonly UpstreamMode[] = ['dual', 'modern', 'legacy'];
