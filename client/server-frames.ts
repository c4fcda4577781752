/** Reading what the server sends: frames as the protocol shapes them, checked only as far as the SDK relies on them. */
import type { Message } from '#shared/model';
import type { ReceiptEntry, ServerFrame } from '#shared/protocol/frames';

export function parseFrame(data: unknown): ServerFrame | undefined {
  if (typeof data !== 'string') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || typeof Reflect.get(value, 'type') !== 'string') return undefined;
  // Fields the SDK reads are checked where it reads them (messages by isMessage).
  return value as ServerFrame;
}

/**
 * API Gateway's own answer when a route's function failed or ran past the integration timeout
 * (`{"message": "Internal server error", "connectionId", "requestId"}`): it names no request of the
 * SDK's, so whatever is in flight may have been the one that failed. `Forbidden` (no such route) is not one.
 */
export function isIntegrationFailure(data: unknown): boolean {
  if (typeof data !== 'string') return false;
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return false;
  }
  if (typeof value !== 'object' || value === null || typeof Reflect.get(value, 'requestId') !== 'string') return false;
  const message = Reflect.get(value, 'message');
  return message === 'Internal server error' || message === 'Endpoint request timed out';
}

export function isMessage(value: unknown): value is Message {
  if (typeof value !== 'object' || value === null) return false;
  const { conversationId, seq, id, type } = value as Record<string, unknown>;
  return (
    typeof conversationId === 'string' &&
    typeof id === 'string' &&
    typeof type === 'string' &&
    typeof seq === 'number' &&
    Number.isSafeInteger(seq)
  );
}

/** One receipt of a `receipts` frame, as far as the SDK reads it. */
export function isReceipt(value: unknown): value is ReceiptEntry {
  if (typeof value !== 'object' || value === null) return false;
  const { conversationId, userId, kind, upToSeq, at } = value as Record<string, unknown>;
  return (
    typeof conversationId === 'string' &&
    typeof userId === 'string' &&
    (kind === 'delivered' || kind === 'read') &&
    typeof upToSeq === 'number' &&
    typeof at === 'string'
  );
}
