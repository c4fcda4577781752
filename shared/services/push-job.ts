import { push } from '../config/push';
import type { PushSubscription } from '../model';

// Apart from push-sender.ts, so fan-out hands on jobs without bundling web-push and its crypto (about 110 KB).

/** One push to one device for one conversation: what fan-out hands the sender (a Lambda event, JSON). */
export interface PushJob {
  /** The recipient and their device. */
  readonly userId: string;
  readonly deviceId: string;
  readonly subscription: PushSubscription;
  readonly conversationId: string;
  readonly seq: number;
  readonly senderId: string;
  /** The message's text, already cut to `push.previewLength` characters. */
  readonly text: string;
}

/** At most `push.previewLength` characters (code points, so no emoji is cut in half). */
export function previewOf(text: string): string {
  const characters = Array.from(text.trim());
  return characters.length <= push.previewLength
    ? characters.join('')
    : `${characters.slice(0, push.previewLength - 1).join('')}…`;
}
