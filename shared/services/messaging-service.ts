import { limits } from '../config/limits';
import { ConflictError, NotFoundError } from '../errors';
import { messageIds } from '../keys';
import { type Message, type StoredMessage, toWireMessage } from '../model';
import type { ConversationRepository } from '../repositories/conversation-repository';
import type { MessageRepository } from '../repositories/message-repository';
import type { Clock } from './clock';

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

export class MessagingService {
  constructor(
    private readonly conversations: ConversationRepository,
    private readonly messages: MessageRepository,
    private readonly clock: Clock,
  ) {}

  async send(input: SendMessageInput): Promise<SendMessageResult> {
    const { conversation, member } = await this.conversations.getMembership(input.conversationId, input.senderId);
    // Same answer for "no such conversation" and "not yours": ids cannot be probed.
    if (!conversation || !member) throw new NotFoundError('Conversation not found');

    let lastSeq = conversation.lastSeq;
    for (let attempt = 1; attempt <= limits.maxSeqAllocationAttempts; attempt++) {
      const message = this.compose(input, lastSeq + 1);
      const outcome = await this.messages.append(message, lastSeq);
      switch (outcome.kind) {
        case 'stored':
          return { message: toWireMessage(outcome.message), duplicate: false };
        case 'duplicate':
          return { message: toWireMessage(outcome.message), duplicate: true };
        case 'conversationGone':
          throw new NotFoundError('Conversation not found');
        case 'seqTaken':
          lastSeq = outcome.lastSeq;
          // Jitter spreads concurrent senders of one busy conversation apart.
          await sleep(Math.random() * 5 * attempt);
          break;
      }
    }
    throw new ConflictError('The conversation is busy; retry with the same clientMessageId');
  }

  private compose(input: SendMessageInput, seq: number): StoredMessage {
    return {
      id: messageIds.format(input.conversationId, seq),
      conversationId: input.conversationId,
      seq,
      senderId: input.senderId,
      type: 'text',
      text: input.text,
      createdAt: this.clock.now().toISOString(),
      clientMessageId: input.clientMessageId,
      ...(input.senderDeviceId ? { senderDeviceId: input.senderDeviceId } : {}),
    };
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
