import type { ConnectionPoster } from '../aws/connection-poster';
import { NotFoundError } from '../errors';
import type { ReceiptKind } from '../model';
import type { ServerFrame } from '../protocol/frames';
import type { ConnectionRepository } from '../repositories/connection-repository';
import type { ConversationRepository } from '../repositories/conversation-repository';
import type { MessageReader } from '../repositories/message-repository';
import type { MarkAdvance, ReceiptRepository } from '../repositories/receipt-repository';
import type { Clock } from './clock';

export interface Acknowledger {
  readonly userId: string;
  /** The connection that acknowledged: the user's other devices hear of a read, this one need not. */
  readonly connectionId?: string;
}

/**
 * Delivery and read marks per member and conversation. A mark only moves forward, whatever order
 * acknowledgements arrive in, never past the conversation's last seq, and reading implies
 * delivery. Each acknowledgement costs O(1) writes however many messages it covers, and its
 * receipt reaches only the devices that need it: the senders of the covered messages and, for a
 * read, the reader's own other devices.
 */
export class ReceiptService {
  constructor(
    private readonly conversations: ConversationRepository,
    private readonly receipts: ReceiptRepository,
    private readonly messages: MessageReader,
    private readonly connections: ConnectionRepository,
    private readonly poster: ConnectionPoster,
    private readonly clock: Clock,
  ) {}

  /**
   * Answers the advances actually made (none for a late or repeated acknowledgement). With
   * `shareReads` false (the user's privacy setting) a read still syncs to their own devices, but
   * senders hear only of the delivery.
   */
  async acknowledge(
    by: Acknowledger,
    conversationId: string,
    kind: ReceiptKind,
    upToSeq: number,
    shareReads = true,
  ): Promise<MarkAdvance[]> {
    const { conversation, member } = await this.conversations.getMembership(conversationId, by.userId);
    if (!conversation || !member) throw new NotFoundError('Conversation not found');
    // A client cannot acknowledge what does not exist yet.
    const toSeq = Math.min(upToSeq, conversation.lastSeq);
    const at = this.clock.now().toISOString();
    const kinds: ReceiptKind[] = kind === 'read' ? ['read', 'delivered'] : ['delivered'];
    const advances: MarkAdvance[] = [];
    for (const each of kinds) {
      const fromSeq = (each === 'read' ? member.readSeq : member.deliveredSeq) ?? 0;
      const advance = await this.receipts.advance(conversationId, by.userId, each, fromSeq, toSeq, at);
      if (advance) advances.push(advance);
    }
    await this.announce(conversationId, by, advances, shareReads);
    return advances;
  }

  /** When the member first reached `seq` with the given mark, if they have. */
  firstReached(conversationId: string, userId: string, kind: ReceiptKind, seq: number): Promise<string | undefined> {
    return this.receipts.firstReached(conversationId, userId, kind, seq);
  }

  private async announce(conversationId: string, by: Acknowledger, advances: MarkAdvance[], shareReads: boolean) {
    const read = advances.find((advance) => advance.kind === 'read');
    const delivered = advances.find((advance) => advance.kind === 'delivered');
    const receipt = (advance: MarkAdvance): ServerFrame => ({
      type: 'receipt',
      conversationId,
      userId: by.userId,
      kind: advance.kind,
      upToSeq: advance.toSeq,
      at: advance.at,
    });
    const posts: Promise<void>[] = [];
    // A conversation read on the laptop is read on the phone.
    if (read) posts.push(this.postToUser(by.userId, receipt(read), by.connectionId));
    // A shared read covers the delivery (its range holds the delivery's: read never passes delivered).
    const forSenders = read && shareReads ? read : delivered;
    if (forSenders) {
      const senders = await this.messages.sendersBetween(conversationId, forSenders.fromSeq, forSenders.toSeq);
      senders.delete(by.userId);
      for (const sender of senders) posts.push(this.postToUser(sender, receipt(forSenders)));
    }
    await Promise.all(posts);
  }

  /** Every live connection of the user but one; a gone connection is fan-out's to clean up. */
  private async postToUser(userId: string, frame: ServerFrame, exceptConnectionId?: string): Promise<void> {
    const live = await this.connections.listForUser(userId);
    await Promise.all(
      live
        .filter((connection) => connection.connectionId !== exceptConnectionId)
        .map((connection) => this.poster.post(connection.connectionId, frame)),
    );
  }
}
