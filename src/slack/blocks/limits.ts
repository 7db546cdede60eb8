/** Block Kit limits Airlock's messages are built to respect (UTF-16 length, as Slack counts). */
export const BLOCK_KIT_LIMITS = Object.freeze({
  /** Blocks in one message. */
  messageBlocks: 50,
  /** Blocks in one modal. */
  modalBlocks: 100,
  /** A section's `text`, and any text object without a tighter limit. */
  sectionText: 3000,
  /** One section field's text. */
  fieldText: 2000,
  /** Fields in one section. */
  fields: 10,
  /** A header block's plain text. */
  headerText: 150,
  /** Elements in a context block. */
  contextElements: 10,
  /** Elements in an actions block. */
  actionsElements: 25,
  /** A button's label. */
  buttonText: 75,
  /** A button's value. */
  buttonValue: 2000,
  /** Any action_id, block_id or callback_id. */
  id: 255,
  /** A confirm dialog's title. */
  confirmTitle: 100,
  /** A confirm dialog's text. */
  confirmText: 300,
  /** A confirm dialog's button labels. */
  confirmButton: 30,
  /** A modal's title, submit and close labels. */
  modalTitle: 24,
  /** A view's private_metadata. */
  privateMetadata: 3000,
  /** An input block's label. */
  inputLabel: 2000,
  /** A placeholder. */
  placeholder: 150,
  /** A plain_text_input's max_length. */
  inputMaxLength: 3000,
  /**
   * The message's top-level `text` (notification fallback). Slack truncates at 40,000 but advises
   * staying under 4,000; Airlock keeps it at one section's worth.
   */
  messageText: 3000,
});
