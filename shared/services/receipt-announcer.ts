import pLimit from 'p-limit';
import type { ConnectionPoster } from '../aws/connection-poster';
import { type Clock, epochSeconds } from '../clock';
import { limits } from '../config/limits';
import type { ReceiptEntry } from '../protocol/frames';
import type { ConnectionRepository } from '../repositories/connection-repository';
import type { MessageReader } from '../repositories/message-repository';
import type { RecordedAcknowledgement } from '../repositories/receipt-repository';
import type { ReadPrivacy } from './receipt-service';

/**
 * Tells senders that their messages were delivered and read, a batch of acknowledgements at a time:
 * each sender device gets one `receipts` frame with every receipt of the batch that concerns it,
 * where one post per acknowledgement and device went before (a 100-member group's readers of one
 * burst were 58 posts to its sender's two devices). A read whose reader keeps reads private is told
 * as a delivery. Best effort, as the posts were: a device that misses one reads the marks when it
 * loads the conversation.
 */
export class ReceiptAnnouncer {
  private readonly postLimit = pLimit(limits.postConcurrency);

  constructor(
    private readonly messages: Pick<MessageReader, 'textSendersBySeq'>,
    private readonly connections: ConnectionRepository,
    private readonly poster: ConnectionPoster,
    private readonly privacy: ReadPrivacy,
    private readonly clock: Clock,
  ) {}

  async announce(acknowledgements: readonly RecordedAcknowledgement[]): Promise<void> {
    const bySender = await this.receiptsBySender(acknowledgements);
    if (bySender.size === 0) return;
    const reaches = await this.connections.readLiveReach([...bySender.keys()], epochSeconds(this.clock.now()));
    const posts = [...bySender].flatMap(([senderId, receipts]) =>
      chunks(receipts, limits.receiptsPerFrame).flatMap((chunk) =>
        (reaches.get(senderId)?.connections ?? []).map((connection) =>
          this.postLimit(() => this.poster.post(connection.connectionId, { type: 'receipts', receipts: chunk })),
        ),
      ),
    );
    // A gone or failing connection loses only receipts, which the marks still hold.
    await Promise.allSettled(posts);
  }

  /** Per sender, the receipts of their messages: the furthest per conversation, member and kind. */
  private async receiptsBySender(
    acknowledgements: readonly RecordedAcknowledgement[],
  ): Promise<Map<string, ReceiptEntry[]>> {
    const readers = [...new Set(acknowledgements.filter((ack) => ack.kind === 'read').map((ack) => ack.userId))];
    const sharing = new Map(
      await Promise.all(readers.map(async (userId) => [userId, await this.privacy.sharesReads(userId)] as const)),
    );
    const byConversation = new Map<string, RecordedAcknowledgement[]>();
    for (const ack of acknowledgements) {
      const acks = byConversation.get(ack.conversationId) ?? [];
      byConversation.set(ack.conversationId, acks);
      acks.push(ack);
    }
    const furthest = new Map<string, Map<string, ReceiptEntry>>();
    await Promise.all(
      [...byConversation].map(async ([conversationId, acks]) => {
        const from = Math.min(...acks.map((ack) => ack.fromSeq));
        const to = Math.max(...acks.map((ack) => ack.toSeq));
        const senderOf = await this.messages.textSendersBySeq(conversationId, from, to);
        for (const ack of acks) {
          // Someone who keeps reads private is only ever seen to have had the messages.
          const kind = ack.kind === 'read' && sharing.get(ack.userId) === false ? 'delivered' : ack.kind;
          const receipt: ReceiptEntry = { conversationId, userId: ack.userId, kind, upToSeq: ack.toSeq, at: ack.at };
          const senders = new Set(
            [...senderOf].filter(([seq]) => seq > ack.fromSeq && seq <= ack.toSeq).map(([, senderId]) => senderId),
          );
          senders.delete(ack.userId);
          for (const senderId of senders) {
            const receipts = furthest.get(senderId) ?? new Map<string, ReceiptEntry>();
            furthest.set(senderId, receipts);
            const key = `${conversationId}#${ack.userId}#${kind}`;
            const known = receipts.get(key);
            if (!known || known.upToSeq < receipt.upToSeq) receipts.set(key, receipt);
          }
        }
      }),
    );
    return new Map([...furthest].map(([senderId, receipts]) => [senderId, [...receipts.values()]]));
  }
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
