import { NotFoundError } from '../errors';
import { messageIds } from '../keys';
import { type Message, toWireMessage } from '../model';
import type { ConversationRepository } from '../repositories/conversation-repository';
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
    // A plain send has no effects to refuse.
    if (result.kind === 'effectRejected') throw new Error('send: unexpected effect rejection');
    return { message: toWireMessage(result.message), duplicate: result.kind === 'duplicate' };
  }
}
