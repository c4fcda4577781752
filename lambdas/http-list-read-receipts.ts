import { messagePathSchema } from '#shared/protocol/messages-http';
import { callerIdOf, httpRoute, json, parsePath } from './lib/http-route';
import { createReceiptService } from './lib/wiring';

const receipts = createReceiptService();

/** `GET /messages/{id}/read_receipts`: one row per other member, members only. */
export const handler = httpRoute(async (event) => {
  const callerId = callerIdOf(event);
  const { id } = parsePath(messagePathSchema, event);
  return json(200, await receipts.receiptsFor(callerId, id));
});
