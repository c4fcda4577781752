/** Reading what the server sends: frames as the protocol shapes them, checked only as far as the SDK relies on them. */
import type { Message } from '#shared/model';
import type { ServerFrame } from '#shared/protocol/frames';

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
