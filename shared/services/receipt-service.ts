import type { ConnectionPoster } from '../aws/connection-poster';
import { type Clock, epochSeconds } from '../clock';
import { NotFoundError } from '../errors';
import { messageIds } from '../keys';
import { type ReceiptKind, visibleFromSeq } from '../model';
import type { ServerFrame } from '../protocol/frames';
import type { ConnectionRepository } from '../repositories/connection-repository';
import type { ConversationRepository } from '../repositories/conversation-repository';
import type { MessageReader } from '../repositories/message-repository';
import type { MarkAdvance, ReceiptRepository } from '../repositories/receipt-repository';

export interface MessageReceipts {
  /** For its sender: `delivered` once every other member has it, `read` once every other member read it. */
  readonly state: 'sent' | 'delivered' | 'read';
  readonly receipts: { readonly userId: string; readonly deliveredAt: string | null; readonly readAt: string | null }[];
}

/** The user's privacy setting: do others see their reads? */
export interface ReadPrivacy {
  sharesReads(userId: string): Promise<boolean>;
}

export interface Acknowledger {
  readonly userId: string;
  /** The connection that acknowledged: the user's other devices hear of a read, this one need not. */
  readonly connectionId?: string;
}

/**
 * Delivery and read marks per member and conversation. A mark only moves forward, whatever order
 * acknowledgements arrive in, never past the conversation's last seq, and reading implies
 * delivery. Each acknowledgement costs two single-item writes however many messages it covers (a
 * read and the delivery it implies included). A read reaches the reader's own other devices from
 * here; the senders of the covered messages hear of every acknowledgement from the receipts stream
 * (ReceiptAnnouncer), a batch's receipts in one frame per device.
 */
export class ReceiptService {
  constructor(
    private readonly conversations: ConversationRepository,
    private readonly receipts: ReceiptRepository,
    private readonly messages: MessageReader,
    private readonly connections: ConnectionRepository,
    private readonly poster: ConnectionPoster,
    private readonly privacy: ReadPrivacy,
    private readonly clock: Clock,
  ) {}

  /**
   * Answers the advances actually made (none for a late or repeated acknowledgement). A user who
   * turned read receipts off still has reads synced to their own devices; senders hear only of
   * the delivery.
   */
  async acknowledge(
    by: Acknowledger,
    conversationId: string,
    kind: ReceiptKind,
    upToSeq: number,
  ): Promise<MarkAdvance[]> {
    const { conversation, member } = await this.membershipFor(conversationId, by.userId, upToSeq);
    if (!conversation || !member) throw new NotFoundError('Conversation not found');
    // A client cannot acknowledge what does not exist yet.
    const toSeq = Math.min(upToSeq, conversation.lastSeq);
    const at = this.clock.now().toISOString();
    const marks = { delivered: member.deliveredSeq ?? 0, read: member.readSeq ?? 0 };
    const advances = await this.receipts.acknowledge(conversationId, by.userId, kind, marks, toSeq, at);
    await this.announceToReader(conversationId, by, advances);
    return advances;
  }

  /**
   * Membership and last seq, eventually consistent (half the units), read again strongly when that
   * read may be stale in a way that matters: no membership yet (a join a moment ago), or a last seq
   * short of the acknowledgement (a commit a moment ago). Stale marks cost nothing: the mark's
   * conditional write refuses them and answers the current ones.
   */
  private async membershipFor(conversationId: string, userId: string, upToSeq: number) {
    const eventual = await this.conversations.getMembership(conversationId, userId, { consistentRead: false });
    if (eventual.conversation && eventual.member && eventual.conversation.lastSeq >= upToSeq) return eventual;
    return this.conversations.getMembership(conversationId, userId);
  }

  /** `POST /messages/{id}/read_receipts`: the caller has read the conversation up to that message. */
  async readUpToMessage(callerId: string, messageId: string): Promise<void> {
    const { conversationId, seq } = await this.visibleMessage(callerId, messageId);
    await this.acknowledge({ userId: callerId }, conversationId, 'read', seq);
  }

  /**
   * For one message, when each other member who belonged then first had it delivered and read
   * (null where not yet): each answer is one Query of that member's mark history.
   */
  async receiptsFor(callerId: string, messageId: string): Promise<MessageReceipts> {
    const { conversationId, seq, senderId, members } = await this.visibleMessage(callerId, messageId);
    const others = members.filter((member) => member.userId !== senderId && member.joinedSeq <= seq);
    const receipts = await Promise.all(
      others.map(async ({ userId }) => {
        const [{ deliveredAt, readAt }, sharesReads] = await Promise.all([
          this.receipts.firstReachedBoth(conversationId, userId, seq),
          this.privacy.sharesReads(userId),
        ]);
        return { userId, deliveredAt: deliveredAt ?? null, readAt: (sharesReads && readAt) || null };
      }),
    );
    const state = receipts.every((row) => row.readAt !== null)
      ? 'read'
      : receipts.every((row) => row.deliveredAt !== null)
        ? 'delivered'
        : 'sent';
    return { state, receipts };
  }

  /** A message the caller may see (member, at or after their visible floor); anything else is not_found. */
  private async visibleMessage(callerId: string, messageId: string) {
    const key = messageIds.parse(messageId);
    const notFound = new NotFoundError('Message not found');
    if (!key) throw notFound;
    const [{ conversation, members }, stored] = await Promise.all([
      this.conversations.getWithMembers(key.conversationId),
      this.messages.get(key.conversationId, key.seq),
    ]);
    const caller = members.find((member) => member.userId === callerId);
    if (!conversation || !caller || !stored || key.seq < visibleFromSeq(conversation, caller)) throw notFound;
    return { ...key, senderId: stored.senderId, members };
  }

  /**
   * A read reaches the reader's own other devices at once (a conversation read on the laptop is read
   * on the phone). The senders hear of it from the receipts stream, batched (ReceiptAnnouncer).
   */
  private async announceToReader(conversationId: string, by: Acknowledger, advances: MarkAdvance[]) {
    const read = advances.find((advance) => advance.kind === 'read');
    if (!read) return;
    const frame: ServerFrame = {
      type: 'receipt',
      conversationId,
      userId: by.userId,
      kind: 'read',
      upToSeq: read.toSeq,
      at: read.at,
    };
    // Best effort, as typing: an eventually consistent read of the reader's live connections. A device
    // that connected a moment ago may miss it; it reads the marks when it loads the conversation.
    const reaches = await this.connections.readLiveReach([by.userId], epochSeconds(this.clock.now()));
    await Promise.all(
      (reaches.get(by.userId)?.connections ?? [])
        // The reading connection knows already; a gone connection is fan-out's to clean up.
        .filter((connection) => connection.connectionId !== by.connectionId)
        .map((connection) => this.poster.post(connection.connectionId, frame)),
    );
  }
}
