import { limits } from '../config/limits';
import type { ReplyRef, StoredMessage } from '../model';
import { graphemeClusters } from '../protocol/text-rules';

/** What a reply carries of the message it answers, as that message is now. */
export function replyRefOf(target: StoredMessage): ReplyRef {
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

/**
 * The messages a page refers to, as they are now: a reply's preview follows the edits of the message
 * it answers and turns into a `deleted` marker once that is deleted, and an edit of a message deleted
 * since shows no text. `lookup` reads the messages the page does not hold (one BatchGetItem).
 */
export async function withCurrentReferences(
  page: readonly StoredMessage[],
  lookup: (seqs: readonly number[]) => Promise<readonly StoredMessage[]>,
): Promise<StoredMessage[]> {
  const held = new Map(page.map((message) => [message.seq, message]));
  const wanted = new Set<number>();
  for (const message of page) {
    const seq = message.replyTo?.seq ?? (message.type === 'edit' ? message.targetSeq : undefined);
    if (seq !== undefined && !held.has(seq)) wanted.add(seq);
  }
  const found = wanted.size > 0 ? await lookup([...wanted]) : [];
  const bySeq = new Map([...held, ...found.map((message) => [message.seq, message] as const)]);
  return page.map((message) => {
    if (message.replyTo) {
      const target = bySeq.get(message.replyTo.seq);
      return target ? { ...message, replyTo: replyRefOf(target) } : message;
    }
    if (message.type === 'edit' && message.targetSeq !== undefined) {
      return bySeq.get(message.targetSeq)?.deletedAt !== undefined ? { ...message, text: '' } : message;
    }
    return message;
  });
}
