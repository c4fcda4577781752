import type { Clock } from '../clock';
import { limits } from '../config/limits';
import { ConflictError, NotFoundError } from '../errors';
import type { Conversation, Member, StoredMessage } from '../model';
import { type MessageRepository, type TimelineEffects, voidMessage } from '../repositories/message-repository';

/** Builds the entry once its seq is known (a new member's row records the seq that added it). */
export type ComposeEntry = (seq: number, at: string) => { message: StoredMessage; effects?: TimelineEffects };

export type AppendResult =
  | { readonly kind: 'stored' | 'duplicate'; readonly message: StoredMessage }
  /** The entry's effects were refused (a bound or an item condition); nothing of it was written. */
  | { readonly kind: 'effectRejected' };

export interface SeqTiming {
  readonly budgetMs: number;
  readonly stallTimeoutMs: number;
}

/** Identifies a client send, so a retry finds the original instead of taking a seq. */
export interface ClientSend {
  readonly senderId: string;
  readonly clientMessageId: string;
}

/**
 * Appends entries to a conversation's timeline with gap-free seqs. Uncontended appends take the
 * optimistic path (one transaction). When appends collide they queue on seq tickets instead of
 * retrying against each other: each waits only for its predecessor, so a burst commits at the
 * rate of one transaction at a time rather than thrashing.
 */
export class TimelineWriter {
  constructor(
    private readonly messages: MessageRepository,
    private readonly clock: Clock,
    private readonly timing: SeqTiming = {
      budgetMs: limits.seqAllocationBudgetMs,
      stallTimeoutMs: limits.seqStallTimeoutMs,
    },
  ) {}

  async append(
    conversationId: string,
    lastSeq: number,
    compose: ComposeEntry,
    send?: ClientSend,
  ): Promise<AppendResult> {
    const optimistic = this.entry(compose, lastSeq + 1);
    const outcome = await this.messages.commit(optimistic.message, 'optimistic', optimistic.effects);
    switch (outcome.kind) {
      case 'stored':
      case 'duplicate':
        return outcome;
      case 'effectRejected':
        return outcome;
      case 'conversationGone':
        throw new NotFoundError('Conversation not found');
      case 'notNext':
        break;
    }
    // Contended: a ticket holds our place; the idempotency check comes first so a retry takes none.
    if (send) {
      const original = await this.messages.findSent(conversationId, send.senderId, send.clientMessageId);
      if (original) return { kind: 'duplicate', message: original };
    }
    return this.appendWithTicket(conversationId, compose);
  }

  /** Creates a conversation whose timeline starts with `firstEntry` (seq 1), in the creating transaction. */
  startConversation(
    conversation: Conversation,
    members: readonly Member[],
    firstEntry: StoredMessage,
    directPair?: readonly [string, string],
  ) {
    return this.messages.createConversation(conversation, members, firstEntry, directPair);
  }

  private async appendWithTicket(conversationId: string, compose: ComposeEntry): Promise<AppendResult> {
    const deadline = Date.now() + this.timing.budgetMs;
    let ticket = await this.messages.takeTicket(conversationId);
    // Once the entry itself is settled (a duplicate, or refused effects), the ticket is filled with a void.
    let settled: AppendResult | undefined;

    while (Date.now() < deadline) {
      const { message, effects } = settled
        ? { message: voidMessage(conversationId, ticket, this.now()), effects: undefined }
        : this.entry(compose, ticket);
      const outcome = await this.messages.commit(message, 'ticket', effects);
      switch (outcome.kind) {
        case 'stored':
          return settled ?? outcome;
        case 'duplicate':
        case 'effectRejected':
          settled = outcome;
          break;
        case 'conversationGone':
          throw new NotFoundError('Conversation not found');
        case 'notNext':
          if (outcome.lastSeq >= ticket) {
            // Our seq was presumed abandoned and filled; queue again.
            ticket = await this.messages.takeTicket(conversationId);
          } else {
            await this.waitForTurn(conversationId, ticket, outcome.lastSeq, deadline);
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
        await this.messages.commit(voidMessage(conversationId, committed + 1, this.now()), 'ticket');
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

  private entry(compose: ComposeEntry, seq: number) {
    return compose(seq, this.now());
  }

  private now(): string {
    return this.clock.now().toISOString();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
