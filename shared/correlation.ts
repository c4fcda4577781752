/**
 * Correlation ids: how one message is followed through the logs of every function it passes.
 *
 * A message's correlation id is its message id, `{conversationId}-{seq}` (see `messageIds`): the
 * send handler learns it the moment the message is stored, the stream record, the `message`
 * frame and the inbox item all carry it, and an `ack` names it by conversation and seq. Before
 * the seq exists (a send that fails) log lines carry the frame's `clientMessageId` instead, which
 * the accepted send's line also carries, so the two can be joined.
 */
import { messageIds } from './keys';

/** Powertools' own key for `logger.setCorrelationId`, so every line of every function agrees. */
export const correlationIdKey = 'correlation_id';

export const correlationIdOf = (message: { readonly id: string }): string => message.id;

/** The correlation id of seq `seq` in a conversation: what an ack up to that seq acknowledges last. */
export const correlationIdAt = (conversationId: string, seq: number): string => messageIds.format(conversationId, seq);

/** Extra log fields naming one message. */
export const correlationFields = (correlationId: string): Record<string, string> => ({
  [correlationIdKey]: correlationId,
});
