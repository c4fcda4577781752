/** What the devices hold and saw, counted against the history: losses, duplicates, order and errors. */
import type { Message } from '../client/index';
import { type Conversation, conversationsOf } from './cast';
import type { ChaosDevice } from './device';

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
