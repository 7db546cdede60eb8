import type { App, BlockAction, ButtonAction, StaticSelectAction } from '@slack/bolt';
import { AirlockError, toAirlockError } from '../core/errors.js';
import { isGrantId } from '../core/grants/grant.js';
import {
  APPROVE_FOR_ACTION_ID,
  REVOKE_GRANT_ACTION_ID,
  parseGrantChoice,
  refusalText,
} from './blocks/index.js';
import type { GrantAccess } from './grant-access.js';
import { decideFromSlack, tell, type InteractionDeps } from './interactions.js';

/** What the grant controls need besides the decision path. */
export interface GrantInteractionDeps extends InteractionDeps {
  /** Absent when this Airlock keeps no grants; Revoke then says so. */
  access?: GrantAccess;
  /** Re-publishes the user's Home tab after a Revoke (or an attempt), so it shows what is active now. */
  refreshHome: (slackUserId: string) => Promise<void>;
}

/**
 * Registers "Approve for…" (a menu on the request message) and the Home tab's Revoke buttons. The menu
 * approves through the same decision path as Approve, with the chosen grant, which the approval service
 * checks against the rule (a forged duration or scope is refused and changes nothing). Revoke goes
 * through the grant service after checking the clicker may revoke that grant.
 */
export function registerGrantInteractions(app: App, deps: GrantInteractionDeps): void {
  app.action<BlockAction<StaticSelectAction>>(APPROVE_FOR_ACTION_ID, async ({ ack, body, action }) => {
    await ack();
    const choice = parseGrantChoice(action.selected_option?.value);
    const where = { userId: body.user.id, ...(body.channel?.id ? { channel: body.channel.id } : {}) };
    if (!choice) {
      await tell(deps, { ...where, requestId: '' }, refusalText('That menu does not name an Airlock grant.'));
      return;
    }
    await decideFromSlack(deps, {
      ...where,
      requestId: choice.requestId,
      handle: body.user.name ?? body.user.username,
      decision: 'approve',
      grant: choice.grant,
    });
  });

  app.action<BlockAction<ButtonAction>>(REVOKE_GRANT_ACTION_ID, async ({ ack, body, action }) => {
    await ack();
    const id = action.value ?? '';
    const userId = body.user.id;
    const where = { requestId: '', userId, ...(body.channel?.id ? { channel: body.channel.id } : {}) };
    if (!isGrantId(id)) {
      await tell(deps, where, refusalText('That button does not name an Airlock grant.'));
      return;
    }
    try {
      if (!deps.access)
        throw new AirlockError('NOT_FOUND', `Grant ${id} not found: this Airlock keeps no grants.`);
      const grant = await deps.access.revoke(id, userId);
      await tell(
        deps,
        where,
        `:white_check_mark: Revoked grant ${grant.id}: ${grant.agent}'s next matching ${grant.tool} call is held for approval again.`,
      );
    } catch (err) {
      const e = toAirlockError(err);
      if (e.internal) deps.logger.error({ grant: id, err: e.message }, 'Slack revoke failed');
      await tell(
        deps,
        where,
        refusalText(
          e.internal
            ? `Airlock could not revoke grant ${id} (${e.message}); it is still active. Try again, or use \`airlock revoke ${id}\`.`
            : e.message,
        ),
      );
    } finally {
      await deps.refreshHome(userId);
    }
  });
}
