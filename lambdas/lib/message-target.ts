import { NotFoundError } from '#shared/errors';
import { messageIds } from '#shared/keys';

/**
 * The conversation and seq a message id names, for the HTTP changes. An id that names none is
 * not_found, like a message the caller may not see; its charge is still made first.
 */
export async function changeTarget(
  messageId: string,
  admission: Promise<void>,
): Promise<{ conversationId: string; seq: number }> {
  const key = messageIds.parse(messageId);
  if (key) return key;
  await admission;
  throw new NotFoundError('Message not found');
}
