import { limits } from '../config/limits';
import { ConflictError, NotFoundError } from '../errors';
import { messageIds } from '../keys';
import { type Message, type StoredMessage, toWireMessage } from '../model';
import type { ConversationRepository } from '../repositories/conversation-repository';
import { type MessageRepository, voidMessage } from '../repositories/message-repository';
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

export interface SeqTiming {
  readonly budgetMs: number;
  readonly stallTimeoutMs: number;
}

/**
 * Stores messages with gap-free per-conversation seqs. Uncontended sends take the optimistic
 * path (2 DynamoDB calls). When senders collide, they queue on seq tickets instead of retrying
 * against each other: each waits only for its predecessor, so a burst commits at the rate of one
 * transaction at a time rather than thrashing.
 */
export class MessagingService {
  constructor(
    private readonly conversations: ConversationRepository,
    private readonly messages: MessageRepository,
    private readonly clock: Clock,
    private readonly timing: SeqTiming = {
      budgetMs: limits.seqAllocationBudgetMs,
      stallTimeoutMs: limits.seqStallTimeoutMs,
    },
  ) {}

  async send(input: SendMessageInput): Promise<SendMessageResult> {
    const { conversation, member } = await this.conversations.getMembership(input.conversationId, input.senderId);
    // Same answer for "no such conversation" and "not yours": ids cannot be probed.
    if (!conversation || !member) throw new NotFoundError('Conversation not found');

    const optimistic = await this.messages.commit(this.compose(input, conversation.lastSeq + 1), 'optimistic');
    if (optimistic.kind === 'stored' || optimistic.kind === 'duplicate')
      return result(optimistic.kind, optimistic.message);
    if (optimistic.kind === 'conversationGone') throw new NotFoundError('Conversation not found');

    // Contended: a ticket holds our place; the idempotency check comes first so a retry takes none.
    const original = await this.messages.findSent(input.conversationId, input.senderId, input.clientMessageId);
    if (original) return result('duplicate', original);
    return this.sendWithTicket(input);
  }

  private async sendWithTicket(input: SendMessageInput): Promise<SendMessageResult> {
    const deadline = Date.now() + this.timing.budgetMs;
    let ticket = await this.messages.takeTicket(input.conversationId);
    let duplicateOf: StoredMessage | undefined;

    while (Date.now() < deadline) {
      const entry = duplicateOf
        ? voidMessage(input.conversationId, ticket, this.clock.now().toISOString())
        : this.compose(input, ticket);
      const outcome = await this.messages.commit(entry, 'ticket');
      switch (outcome.kind) {
        case 'stored':
          return result(duplicateOf ? 'duplicate' : 'stored', duplicateOf ?? outcome.message);
        case 'duplicate':
          // A concurrent retry of this very send won; our ticket still has to be filled.
          duplicateOf = outcome.message;
          break;
        case 'conversationGone':
          throw new NotFoundError('Conversation not found');
        case 'notNext':
          if (outcome.lastSeq >= ticket) {
            // Our seq was presumed abandoned and filled; queue again.
            ticket = await this.messages.takeTicket(input.conversationId);
          } else {
            await this.waitForTurn(input.conversationId, ticket, outcome.lastSeq, deadline);
          }
          break;
      }
    }
    throw new ConflictError('The conversation is busy; retry with the same clientMessageId');
  }

  /**
   * Polls the committed seq (a cheap strong read, not a failing transaction) until the seq
   * before `ticket` has committed. Far-back tickets poll slowly, the next in line quickly. A
   * holder that makes no progress for the stall timeout is presumed dead and its seq filled.
   */
  private async waitForTurn(conversationId: string, ticket: number, lastSeq: number, deadline: number): Promise<void> {
    let committed = lastSeq;
    let progressAt = Date.now();
    while (committed < ticket - 1 && Date.now() < deadline) {
      if (Date.now() - progressAt > this.timing.stallTimeoutMs) {
        await this.messages.commit(
          voidMessage(conversationId, committed + 1, this.clock.now().toISOString()),
          'ticket',
        );
        progressAt = Date.now();
      }
      const ahead = ticket - 1 - committed;
      await sleep((ahead <= 1 ? 2 : Math.min(250, ahead * 5)) * (0.75 + Math.random() / 2));
      const now = await this.messages.committedSeq(conversationId);
      if (now === undefined) return;
      if (now !== committed) {
        committed = now;
        progressAt = Date.now();
      }
    }
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

function result(kind: 'stored' | 'duplicate', message: StoredMessage): SendMessageResult {
  return { message: toWireMessage(message), duplicate: kind === 'duplicate' };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
