/** What the devices hold and saw, counted against the history: losses, duplicates, order and errors. */
import type { Message } from '../client/index';
import { type Conversation, conversationsOf } from './cast';
import { type ChaosDevice, messageKey, type SocketSpan } from './device';

export function holds(device: ChaosDevice, message: Message | undefined): boolean {
  if (message === undefined) return false;
  return device.client.messages(message.conversationId).some((cached) => cached.seq === message.seq);
}

/** Messages of the history that `counted` selects and that a member device's cache lacks, over all devices. */
export function countMissing(
  devices: readonly ChaosDevice[],
  conversations: readonly Conversation[],
  history: ReadonlyMap<string, readonly Message[]>,
  counted: (message: Message) => boolean,
): number {
  let missing = 0;
  for (const device of devices) {
    for (const conversation of conversationsOf(conversations, device)) {
      const cached = new Set(device.client.messages(conversation.id).map((message) => message.seq));
      for (const message of history.get(conversation.id) ?? []) {
        if (counted(message) && !cached.has(message.seq)) missing += 1;
      }
    }
  }
  return missing;
}

/** An accepted message, and the devices that should hold it and do not. */
export interface LostMessage {
  readonly message: Message;
  readonly missingOn: readonly ChaosDevice[];
}

/**
 * Messages a sender was told were accepted that some recipient device (every device of every member,
 * the sending device aside) does not hold: lost, whatever the server's history says.
 */
export function findLost(
  devices: readonly ChaosDevice[],
  conversations: readonly Conversation[],
  accepted: readonly Message[],
  senders: ReadonlyMap<string, ChaosDevice>,
): LostMessage[] {
  const byId = new Map(conversations.map((conversation) => [conversation.id, conversation]));
  const lost: LostMessage[] = [];
  for (const message of accepted) {
    const conversation = byId.get(message.conversationId);
    if (conversation === undefined) continue;
    const sender = senders.get(messageKey(message.conversationId, message.seq));
    const missingOn = devices.filter(
      (device) => device !== sender && conversation.members.includes(device.userId) && !holds(device, message),
    );
    if (missingOn.length > 0) lost.push({ message, missingOn });
  }
  return lost;
}

/** One message a device holds only because it filled a gap from history (no push or inbox replay brought it). */
export interface GapFill {
  readonly device: string;
  readonly conversationId: string;
  readonly seq: number;
  readonly type: string;
  readonly text: string;
  /**
   * Whether one socket of the device stayed open from the message's commit until `steadyWindowMs` later.
   * If not, the message met a connection that was down or cut: a post API Gateway accepted into a socket
   * that then closed, or an inbox item the SDK's catch-up read from history first.
   */
  readonly steadyConnection: boolean;
}

/** Long enough for a push, a fan-out retry or two and the SDK's gap-fill delay. */
export const steadyWindowMs = 5_000;

function connectedThroughout(sockets: readonly SocketSpan[], from: number, to: number): boolean {
  return sockets.some(
    (socket) => socket.openedAt !== undefined && socket.openedAt <= from && (socket.closedAt ?? Infinity) >= to,
  );
}

/**
 * Messages (voids and the device's own sends aside, `excluded` too) a device holds that never came to it
 * as a `message` frame: it fetched them from history to fill a gap, so push and inbox both missed them.
 */
export function findGapFills(
  devices: readonly ChaosDevice[],
  conversations: readonly Conversation[],
  senders: ReadonlyMap<string, ChaosDevice>,
  excluded: (message: Message) => boolean,
): GapFill[] {
  const fills: GapFill[] = [];
  for (const device of devices) {
    for (const conversation of conversationsOf(conversations, device)) {
      for (const message of device.client.messages(conversation.id)) {
        if (message.type === 'void' || excluded(message)) continue;
        const key = messageKey(message.conversationId, message.seq);
        if (senders.get(key) === device || (device.frames.get(key) ?? 0) > 0) continue;
        fills.push({
          device: device.deviceId,
          conversationId: message.conversationId,
          seq: message.seq,
          type: message.type,
          text: message.text.slice(0, 40),
          steadyConnection: connectedThroughout(
            device.sockets,
            Date.parse(message.createdAt),
            Date.parse(message.createdAt) + steadyWindowMs,
          ),
        });
      }
    }
  }
  return fills;
}

/** Duplicates and order as the app sees them: `message` events and the cache. */
export function countVisibleFaults(
  devices: readonly ChaosDevice[],
  conversations: readonly Conversation[],
): { duplicated: number; outOfOrder: number } {
  let duplicated = 0;
  let outOfOrder = 0;
  for (const device of devices) {
    for (const times of device.emitted.values()) duplicated += Math.max(0, times - 1);
    outOfOrder += device.outOfOrderEvents;
    for (const conversation of conversationsOf(conversations, device)) {
      const seqs = device.client.messages(conversation.id).map((message) => message.seq);
      duplicated += seqs.length - new Set(seqs).size;
      for (let i = 1; i < seqs.length; i++) if ((seqs[i] ?? 0) <= (seqs[i - 1] ?? 0)) outOfOrder += 1;
    }
  }
  return { duplicated, outOfOrder };
}

/** `message` frames received again for a message the device had already received, before the SDK's dedupe. */
export function countDuplicateFrames(devices: readonly ChaosDevice[]): number {
  return devices.reduce(
    (sum, device) => sum + [...device.frames.values()].reduce((n, frames) => n + Math.max(0, frames - 1), 0),
    0,
  );
}

export function tallyErrors(devices: readonly ChaosDevice[]): Record<string, number> {
  const tally: Record<string, number> = {};
  for (const device of devices) {
    for (const [key, count] of device.errors) tally[key] = (tally[key] ?? 0) + count;
  }
  return tally;
}
