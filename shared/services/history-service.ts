import { int, number, object, enum as oneOf, positive, string } from 'zod/mini';
import { BadRequestError, NotFoundError } from '../errors';
import { messageIds } from '../keys';
import { type Message, toWireMessage, visibleFromSeq } from '../model';
import { cursorCodec } from '../protocol/cursor';
import type { ConversationRepository } from '../repositories/conversation-repository';
import type { MessageReader, TimelinePageRequest } from '../repositories/message-repository';
import { withCurrentReferences } from './replies';

/** Where a history page starts: after or before a seq, where a previous page's cursor left off, or at the newest message. */
export type HistoryStart =
  | { readonly kind: 'newest' }
  | { readonly kind: 'after'; readonly seq: number }
  | { readonly kind: 'before'; readonly seq: number }
  | { readonly kind: 'cursor'; readonly cursor: string };

export interface ListMessagesInput {
  readonly conversationId: string;
  readonly callerId: string;
  readonly start: HistoryStart;
  readonly limit: number;
}

export interface HistoryPage {
  /** Ascending for `after` pages, descending for `before` and newest pages; a cursor keeps its direction. */
  readonly messages: Message[];
  /** Present while more messages lie beyond the last one in the same direction. */
  readonly cursor?: string;
}

type PagePosition = Pick<TimelinePageRequest, 'direction' | 'fromSeqExclusive'>;

/** What a cursor carries; the conversation id ties it to the conversation it was issued for. */
const cursorSchema = object({
  conversationId: string(),
  direction: oneOf(['ascending', 'descending']),
  seq: number().check(int(), positive()),
});

const historyCursor = cursorCodec(cursorSchema);

/**
 * Reading the timeline: members only, and each member only from their visible floor (their join,
 * unless the conversation shows all history). Anything a caller may not see answers not_found,
 * exactly like what does not exist, so ids cannot be probed.
 */
export class HistoryService {
  constructor(
    private readonly conversations: ConversationRepository,
    private readonly messages: MessageReader,
  ) {}

  async list(input: ListMessagesInput): Promise<HistoryPage> {
    const position = positionOf(input.start, input.conversationId);
    const floorSeq = await this.visibleFloor(input.conversationId, input.callerId);
    if (floorSeq === undefined) throw new NotFoundError('Conversation not found');

    const page = await this.messages.page(input.conversationId, { ...position, floorSeq, limit: input.limit });
    const messages = await withCurrentReferences(page.messages, (seqs) => this.lookup(input.conversationId, seqs));
    const last = page.messages.at(-1);
    const cursor =
      page.hasMore && last
        ? historyCursor.encode({ conversationId: input.conversationId, direction: position.direction, seq: last.seq })
        : undefined;
    return { messages: messages.map(toWireMessage), ...(cursor ? { cursor } : {}) };
  }

  async get(messageId: string, callerId: string): Promise<Message> {
    const key = messageIds.parse(messageId);
    if (!key) throw new NotFoundError('Message not found');
    // Independent reads, so in parallel: one round trip; the message is returned only if the floor allows.
    const [floorSeq, stored] = await Promise.all([
      this.visibleFloor(key.conversationId, callerId),
      this.messages.get(key.conversationId, key.seq),
    ]);
    if (floorSeq === undefined || key.seq < floorSeq || !stored) throw new NotFoundError('Message not found');
    const [current] = await withCurrentReferences([stored], (seqs) => this.lookup(key.conversationId, seqs));
    return toWireMessage(current ?? stored);
  }

  private lookup(conversationId: string, seqs: readonly number[]) {
    return this.messages.getMany(seqs.map((seq) => ({ conversationId, seq })));
  }

  /** The first seq the caller may read, or undefined when the conversation is unknown or not theirs. */
  private async visibleFloor(conversationId: string, userId: string): Promise<number | undefined> {
    const { conversation, member } = await this.conversations.getMembership(conversationId, userId);
    return conversation && member ? visibleFromSeq(conversation, member) : undefined;
  }
}

function positionOf(start: HistoryStart, conversationId: string): PagePosition {
  switch (start.kind) {
    case 'newest':
      return { direction: 'descending' };
    case 'after':
      return { direction: 'ascending', fromSeqExclusive: start.seq };
    case 'before':
      return { direction: 'descending', fromSeqExclusive: start.seq };
    case 'cursor': {
      const content = historyCursor.decode(start.cursor);
      // A cursor only continues the conversation it was issued for.
      if (content.conversationId !== conversationId) throw new BadRequestError('Invalid cursor');
      return { direction: content.direction, fromSeqExclusive: content.seq };
    }
  }
}
