import { BLOCK_KIT_LIMITS } from './limits.js';
import { clip } from './text.js';

/** Text of an ephemeral refusal ("not an approver", "already decided by …"), escaped and within limits. */
export function refusalText(reason: string): string {
  return `:no_entry: ${clip(reason, BLOCK_KIT_LIMITS.messageText - ':no_entry: '.length)}`;
}
