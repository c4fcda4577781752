import { messagePathSchema } from '#shared/protocol/messages-http';
import { callerIdOf, httpRoute, parsePath } from './lib/http-route';
import { createReceiptService } from './lib/wiring';

const receipts = createReceiptService();

/** `POST /messages/{id}/read_receipts`: marks the conversation read up to that message for the caller. */
export const handler = httpRoute(async (event) => {
  const callerId = callerIdOf(event);
  const { id } = parsePath(messagePathSchema, event);
  await receipts.readUpToMessage(callerId, id);
  return { statusCode: 204 };
});
