import type { App, BlockAction, ButtonAction, ViewSubmitAction, webApi } from '@slack/bolt';
import type { ApprovalService } from '../approval/approval-service.js';
import { isRequestId } from '../core/approval/request-id.js';
import { toAirlockError } from '../core/errors.js';
import type { GrantRequest } from '../core/grants/grant.js';
import type { Logger } from '../log.js';
import {
  APPROVE_ACTION_ID,
  REASON_ACTION_ID,
  REASON_BLOCK_ID,
  REJECT_ACTION_ID,
  REJECT_MODAL_CALLBACK_ID,
  REJECT_REASON_ACTION_ID,
  refusalText,
  rejectReasonModal,
} from './blocks/index.js';
import type { UserNames } from './user-names.js';

/** What the click handlers need. */
export interface InteractionDeps {
  approvals: Pick<ApprovalService, 'decide' | 'get'>;
  /** Client for answering the clicker (ephemerals, modals); fails fast, the person can click again. */
  client: webApi.WebClient;
  names: UserNames;
  logger: Logger;
}

/** One reviewer's click, as the decision code needs it. */
export interface Click {
  requestId: string;
  userId: string;
  handle?: string;
  decision: 'approve' | 'reject';
  reason?: string;
  /** With an approval: the grant chosen ("Approve for…"), checked by the approval service like any surface's. */
  grant?: GrantRequest;
  /** Where the click came from, for the ephemeral answer; the record's channel otherwise. */
  channel?: string;
}

/**
 * Registers the request message's buttons and the reject-reason modal on a Bolt app. Every handler
 * acks first (Slack wants an answer within 3 s), then decides; refusals go back to the clicker as an
 * ephemeral message, and the approval service records them for the audit.
 */
export function registerInteractions(app: App, deps: InteractionDeps): void {
  const buttons: [string, Click['decision']][] = [
    [APPROVE_ACTION_ID, 'approve'],
    [REJECT_ACTION_ID, 'reject'],
  ];
  for (const [actionId, decision] of buttons) {
    app.action<BlockAction<ButtonAction>>(actionId, async ({ ack, body, action }) => {
      await ack();
      await decideFromSlack(deps, {
        requestId: action.value ?? '',
        userId: body.user.id,
        handle: body.user.name ?? body.user.username,
        decision,
        channel: body.channel?.id,
      });
    });
  }

  app.action<BlockAction<ButtonAction>>(REJECT_REASON_ACTION_ID, async ({ ack, body, action }) => {
    await ack();
    const requestId = action.value ?? '';
    const where = { requestId, userId: body.user.id, channel: body.channel?.id };
    if (!isRequestId(requestId))
      return tell(deps, where, refusalText('That button does not name an Airlock request.'));
    try {
      // The trigger id is valid for 3 s from the click, so the modal opens before anything else.
      await deps.client.views.open({ trigger_id: body.trigger_id, view: rejectReasonModal(requestId) });
    } catch (err) {
      deps.logger.warn(
        { id: requestId, err: (err as Error).message },
        'could not open the reject-reason modal',
      );
      await tell(
        deps,
        where,
        refusalText(
          `Airlock could not open the reason form (${(err as Error).message}); use Reject, or the console.`,
        ),
      );
    }
  });

  app.view<ViewSubmitAction>(REJECT_MODAL_CALLBACK_ID, async ({ ack, body, view }) => {
    const reason = view.state.values[REASON_BLOCK_ID]?.[REASON_ACTION_ID]?.value?.trim() ?? '';
    if (reason === '') {
      await ack({
        response_action: 'errors',
        errors: { [REASON_BLOCK_ID]: 'Say why, so the agent can act on it.' },
      });
      return;
    }
    await ack();
    await decideFromSlack(deps, {
      requestId: view.private_metadata,
      userId: body.user.id,
      handle: body.user.name,
      decision: 'reject',
      reason,
    });
  });
}

/** Records a Slack click as a decision; answers a refusal or failure privately to the clicker. */
export async function decideFromSlack(deps: InteractionDeps, click: Click): Promise<void> {
  if (!isRequestId(click.requestId)) {
    await tell(deps, click, refusalText('That button does not name an Airlock request.'));
    return;
  }
  const display = await deps.names.nameOf(click.userId, click.handle);
  try {
    await deps.approvals.decide(click.requestId, {
      slackUserId: click.userId,
      ...(display ? { display } : {}),
      via: 'slack',
      decision: click.decision,
      ...(click.reason ? { reason: click.reason } : {}),
      ...(click.grant ? { grant: click.grant } : {}),
    });
  } catch (err) {
    const e = toAirlockError(err);
    // Refusals are the reviewer's to read as they are; Airlock's own failure is said as such.
    const text = e.internal
      ? refusalText(
          `Airlock could not record your decision on ${click.requestId} (${e.message}). Nothing was decided; try again in a moment, or use the console.`,
        )
      : refusalText(e.message);
    if (e.internal) deps.logger.error({ id: click.requestId, err: e.message }, 'Slack decision failed');
    await tell(deps, click, text);
  }
}

/** Answers a Slack user privately: ephemeral in the request's channel, else a DM from the app. */
export async function tell(
  deps: InteractionDeps,
  to: { requestId: string; userId: string; channel?: string },
  text: string,
): Promise<void> {
  try {
    const channel =
      to.channel ??
      (isRequestId(to.requestId) ? (await deps.approvals.get(to.requestId))?.slack?.channel : undefined);
    if (channel) await deps.client.chat.postEphemeral({ channel, user: to.userId, text });
    else await deps.client.chat.postMessage({ channel: to.userId, text });
  } catch (err) {
    deps.logger.warn(
      { id: to.requestId, user: to.userId, err: (err as Error).message },
      'could not tell a Slack user',
    );
  }
}
