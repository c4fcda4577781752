import { limits } from '../config/limits';
import type { ReplyRef } from '../model';
import { graphemeClusters } from './text-rules';

/** What `replyRefOf` reads of a message: a stored one on the server, a wire one in the SDK. */
export interface QuotedMessage {
  readonly seq: number;
  readonly senderId: string;
  readonly text: string;
  readonly deletedAt?: string | undefined;
  readonly attachments?: readonly unknown[] | undefined;
}

/** What a reply carries of the message it answers, as that message is now: the server and the SDK agree on it. */
export function replyRefOf(target: QuotedMessage): ReplyRef {
  if (target.deletedAt !== undefined) return { seq: target.seq, senderId: target.senderId, preview: '', deleted: true };
  const clusters = graphemeClusters(target.text);
  const preview =
    clusters.length > limits.replyPreviewLength
      ? `${clusters.slice(0, limits.replyPreviewLength).join('').trimEnd()}…`
      : target.text;
  return {
    seq: target.seq,
    senderId: target.senderId,
    preview,
    ...((target.attachments?.length ?? 0) > 0 ? { hasAttachments: true } : {}),
  };
}
