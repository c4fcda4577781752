import { NotFoundError } from '../errors';
import type { ReceiptKind } from '../model';
import type { ConversationRepository } from '../repositories/conversation-repository';
import type { MarkAdvance, ReceiptRepository } from '../repositories/receipt-repository';
import type { Clock } from './clock';

/**
 * Delivery and read marks per member and conversation. A mark only moves forward, whatever order
 * acknowledgements arrive in, never past the conversation's last seq, and reading implies
 * delivery. Each acknowledgement costs O(1) writes however many messages it covers.
 */
export class ReceiptService {
  constructor(
    private readonly conversations: ConversationRepository,
    private readonly receipts: ReceiptRepository,
    private readonly clock: Clock,
  ) {}

  /** Answers the advances actually made (none for a late or repeated acknowledgement). */
  async acknowledge(
    userId: string,
    conversationId: string,
    kind: ReceiptKind,
    upToSeq: number,
  ): Promise<MarkAdvance[]> {
    const { conversation, member } = await this.conversations.getMembership(conversationId, userId);
    if (!conversation || !member) throw new NotFoundError('Conversation not found');
    // A client cannot acknowledge what does not exist yet.
    const toSeq = Math.min(upToSeq, conversation.lastSeq);
    const at = this.clock.now().toISOString();
    const kinds: ReceiptKind[] = kind === 'read' ? ['read', 'delivered'] : ['delivered'];
    const advances: MarkAdvance[] = [];
    for (const each of kinds) {
      const fromSeq = (each === 'read' ? member.readSeq : member.deliveredSeq) ?? 0;
      const advance = await this.receipts.advance(conversationId, userId, each, fromSeq, toSeq, at);
      if (advance) advances.push(advance);
    }
    return advances;
  }

  /** When the member first reached `seq` with the given mark, if they have. */
  firstReached(conversationId: string, userId: string, kind: ReceiptKind, seq: number): Promise<string | undefined> {
    return this.receipts.firstReached(conversationId, userId, kind, seq);
  }
}
