import { humanDuration } from '../../core/human-duration.js';
import type { ApprovalRecord } from '../../core/approval/types.js';
import { slackDate } from './format.js';
import { clip, inlineCode, neutraliseFences } from './text.js';

const SUMMARY_MAX = 2000;

/**
 * The thread reply under a request message reporting the single upstream run: success and its
 * duration, or the upstream error summary. Other statuses say why nothing ran.
 */
export function executionReply(record: ApprovalRecord): { text: string } {
  const call = `${inlineCode(record.tool)} on ${inlineCode(record.server)}`;
  const exec = record.execution;
  const took = exec?.finishedAt !== undefined ? humanDuration(exec.finishedAt - exec.startedAt) : undefined;
  let text: string;
  switch (record.status) {
    case 'executed':
      text = `:white_check_mark: ${call} ran${took ? ` in ${took}` : ''}.${summary(exec?.summary)}`;
      break;
    case 'failed':
      text = `:warning: ${call} failed${took ? ` after ${took}` : ''}.${summary(exec?.summary ?? 'No error details.')}`;
      break;
    case 'executing':
      text = `:hourglass_flowing_sand: ${call} is running (started ${slackDate(exec?.startedAt ?? record.decidedAt ?? record.createdAt)}).`;
      break;
    case 'approved':
      text = `${call} is approved and about to run.`;
      break;
    default:
      text = `${call} did not run: the request is ${record.status}.`;
  }
  // Parts are escaped and clipped one by one (names ≤ 200, summary ≤ 2000), so the whole stays under the limit.
  return { text };
}

// Upstream output is untrusted: escaped, fenced, fences neutralised and cut short.
function summary(text: string | undefined): string {
  if (text === undefined || text === '') return '';
  return `\n\`\`\`\n${clip(neutraliseFences(text), SUMMARY_MAX)}\n\`\`\``;
}
