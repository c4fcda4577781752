import { NotFoundError } from '../errors';
import { type Conversation, type Member, type StoredMessage, visibleFromSeq } from '../model';
import { replyRefOf } from '../protocol/reply-ref';
import type { TimelineWriter } from './timeline-writer';

/** What a reply or a change may name: a text message the member may see; anything else is not_found. */
export async function visibleTextMessage(
  timeline: Pick<TimelineWriter, 'messageAt'>,
  conversation: Conversation,
  member: Member,
  seq: number,
): Promise<StoredMessage> {
  const target =
    seq >= visibleFromSeq(conversation, member) ? await timeline.messageAt(conversation.id, seq) : undefined;
  if (target?.type !== 'text') throw new NotFoundError('Message not found');
  return target;
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
