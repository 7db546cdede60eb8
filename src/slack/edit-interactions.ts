import type { App, BlockAction, ButtonAction, ViewSubmitAction } from '@slack/bolt';
import { isRequestId } from '../core/approval/request-id.js';
import { toAirlockError } from '../core/errors.js';
import {
  EDIT_ACTION_ID,
  EDIT_ARGS_ACTION_ID,
  EDIT_ARGS_BLOCK_ID,
  EDIT_COMMENT_ACTION_ID,
  EDIT_COMMENT_BLOCK_ID,
  EDIT_MODAL_CALLBACK_ID,
  editArgsModal,
  editable,
  fitsSlackEditor,
  parseEditedArgs,
  tooLongToEditText,
} from './blocks/edit-args-modal.js';
import { consoleUrl } from './blocks/format.js';
import { refusalText } from './blocks/index.js';
import { clip } from './blocks/text.js';
import { tell, type InteractionDeps } from './interactions.js';
import type { ReviewerQueue } from './reviewer-queue.js';

/** Longest error Airlock puts under the modal's input; the message names the problem first. */
const MODAL_ERROR_MAX = 1500;

/** What the edit handlers need besides the click handlers' dependencies. */
export interface EditInteractionDeps extends InteractionDeps {
  /** Base URL of the console (config `publicUrl`), for arguments too long to edit in Slack. */
  publicUrl?: string;
  /** Who may decide a request; the editor opens only for them. */
  queue: Pick<ReviewerQueue, 'mayView'>;
}

/**
 * Registers "Approve with changes": the button opens a modal with the arguments as editable JSON; the
 * submission approves with them, or keeps the modal open with what is wrong (bad JSON, the tool's
 * schema, the policy, not an approver), the request unchanged.
 */
export function registerEditInteractions(app: App, deps: EditInteractionDeps): void {
  app.action<BlockAction<ButtonAction>>(EDIT_ACTION_ID, async ({ ack, body, action }) => {
    await ack();
    const requestId = action.value ?? '';
    const where = { requestId, userId: body.user.id, channel: body.channel?.id };
    if (!isRequestId(requestId))
      return tell(deps, where, refusalText('That button does not name an Airlock request.'));
    try {
      const record = await deps.approvals.get(requestId);
      if (!record) return tell(deps, where, refusalText(`Request ${requestId} not found.`));
      if (!editable(record)) {
        return tell(deps, where, refusalText(`The rule ${record.rule} does not allow edits.`));
      }
      // The submission is refused (and audited) for anyone else too; this only spares them the form.
      if (!(await deps.queue.mayView(record, body.user.id)).decide) {
        return tell(
          deps,
          where,
          refusalText(`You may not decide request ${requestId}, so you cannot edit it.`),
        );
      }
      if (!fitsSlackEditor(record)) {
        return tell(deps, where, tooLongToEditText(record, consoleUrl(deps.publicUrl, record.id)));
      }
      // The trigger id is valid for 3 s from the click; only the record and (cached) group reads come first.
      await deps.client.views.open({ trigger_id: body.trigger_id, view: editArgsModal(record) });
    } catch (err) {
      deps.logger.warn({ id: requestId, err: (err as Error).message }, 'could not open the edit modal');
      await tell(
        deps,
        where,
        refusalText(
          `Airlock could not open the edit form (${(err as Error).message}); use the console or \`airlock approve ${requestId} --args\`.`,
        ),
      );
    }
  });

  app.view<ViewSubmitAction>(EDIT_MODAL_CALLBACK_ID, async ({ ack, body, view }) => {
    const fail = (error: string) =>
      ack({ response_action: 'errors', errors: { [EDIT_ARGS_BLOCK_ID]: clip(error, MODAL_ERROR_MAX) } });
    const requestId = view.private_metadata;
    if (!isRequestId(requestId)) return fail('This form does not name an Airlock request.');
    const text = view.state.values[EDIT_ARGS_BLOCK_ID]?.[EDIT_ARGS_ACTION_ID]?.value ?? '';
    const parsed = parseEditedArgs(text);
    if (!parsed.ok) return fail(parsed.error);
    const comment = view.state.values[EDIT_COMMENT_BLOCK_ID]?.[EDIT_COMMENT_ACTION_ID]?.value?.trim();
    const display = await deps.names.nameOf(body.user.id, body.user.name);
    try {
      // Decided before the answer, so a refusal can keep the modal open; a decision takes milliseconds.
      await deps.approvals.decide(requestId, {
        slackUserId: body.user.id,
        ...(display ? { display } : {}),
        via: 'slack',
        decision: 'approve',
        args: parsed.args,
        ...(comment ? { comment } : {}),
      });
    } catch (err) {
      const e = toAirlockError(err);
      if (e.internal) deps.logger.error({ id: requestId, err: e.message }, 'Slack edit failed');
      return fail(
        e.internal
          ? `Airlock could not record your decision (${e.message}). Nothing was decided; try again in a moment.`
          : e.message,
      );
    }
    await ack();
  });
}
