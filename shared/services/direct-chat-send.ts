import type { DirectChatView, MessagingService, SendMessageInput, SendMessageResult } from './messaging-service';
import type { SendRateLimiter } from './send-rate-limiter';

/** Whether the send's view of its direct chat held (it committed without the read), or it went the usual way. */
export type DirectChatViewOutcome = 'held' | 'refused';

/**
 * A send with the device's view of its direct chat, charged exactly once whichever way it goes: one
 * commit that carries the rate-limit claim (when this handler holds no lease), else, when the view
 * did not hold, the usual send, charged only if the commit did not already spend a held lease.
 */
export async function sendWithDirectChatView(
  messaging: MessagingService,
  sendRate: SendRateLimiter,
  input: SendMessageInput,
  view: DirectChatView,
): Promise<{ readonly sent: SendMessageResult; readonly view: DirectChatViewOutcome }> {
  const rateClaim = sendRate.claimForCommit(input.senderId);
  const viewed = await messaging.sendWithView(input, view, rateClaim);
  if (viewed && rateClaim) {
    // A retry's cancelled commit wrote no claim: it is charged as the usual send charges every retry.
    if (viewed.duplicate) await sendRate.consume(input.senderId);
    else sendRate.claimCommitted(input.senderId, rateClaim);
  }
  if (viewed) return { sent: viewed, view: 'held' };
  const sent = await messaging.send(input, rateClaim ? sendRate.consume(input.senderId) : undefined);
  return { sent, view: 'refused' };
}
