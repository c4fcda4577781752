import { NotFoundError } from '../errors';
import { messageIds } from '../keys';
import { type Message, toWireMessage } from '../model';
import { type ConversationRepository, memberWrites } from '../repositories/conversation-repository';
import type { TimelineWriter } from './timeline-writer';

export interface SendMessageInput {
  readonly senderId: string;
  /** Absent for sends that come through HTTP rather than a device's socket. */
  readonly senderDeviceId?: string;
  readonly conversationId: string;
  readonly clientMessageId: string;
  readonly text: string;
}

export interface SendMessageResult {
  readonly message: Message;
  /** True when this clientMessageId was already stored: the answer is the original message. */
  readonly duplicate: boolean;
}

/** Client sends: members only, idempotent per (conversation, sender, clientMessageId). */
export class MessagingService {
  constructor(
    private readonly conversations: ConversationRepository,
    private readonly timeline: TimelineWriter,
  ) {}

  async send(input: SendMessageInput): Promise<SendMessageResult> {
    const { conversation, member } = await this.conversations.getMembership(input.conversationId, input.senderId);
    // Same answer for "no such conversation" and "not yours": ids cannot be probed.
    if (!conversation || !member) throw new NotFoundError('Conversation not found');

    const result = await this.timeline.append(
      input.conversationId,
      conversation.lastSeq,
      (seq, at) => ({
        // The sender's membership is checked again inside the transaction: a send that waited in
        // the seq queue must not land after the sender's removal.
        effects: {
          items: [memberWrites.send(this.conversations.tableName, input.conversationId, input.senderId, seq)],
        },
        message: {
          id: messageIds.format(input.conversationId, seq),
          conversationId: input.conversationId,
          seq,
          senderId: input.senderId,
          type: 'text',
          text: input.text,
          createdAt: at,
          clientMessageId: input.clientMessageId,
          ...(input.senderDeviceId ? { senderDeviceId: input.senderDeviceId } : {}),
        },
      }),
      { senderId: input.senderId, clientMessageId: input.clientMessageId },
    );
    if (result.kind === 'effectRejected') throw new NotFoundError('Conversation not found');
    return { message: toWireMessage(result.message), duplicate: result.kind === 'duplicate' };
  }
}
