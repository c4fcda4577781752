import { maxLength, minLength, object, type output, string } from 'zod/mini';
import { ForbiddenError } from '../errors';
import { type Conversation, type Member, type Message, toWireMessage } from '../model';
import { cursorCodec } from '../protocol/cursor';
import type { ConversationRepository } from '../repositories/conversation-repository';
import type { MessageReader } from '../repositories/message-repository';

export interface ConversationSummary extends Conversation {
  readonly role: Member['role'];
  readonly lastMessage?: Message;
  readonly unreadCount: number;
}

export interface ConversationPage {
  readonly conversations: ConversationSummary[];
  readonly cursor?: string;
}

const cursorSchema = object({
  at: string().check(minLength(1), maxLength(40)),
  id: string().check(minLength(1), maxLength(128)),
});
type Position = output<typeof cursorSchema>;
const listCursor = cursorCodec(cursorSchema);

/**
 * A user's conversations, most recently active first, each with its last message and unread
 * count, computed at read time from membership rows, conversation metas and one message read per
 * conversation on the page: nothing is written per member per message to maintain it.
 */
export class ConversationListService {
  constructor(
    private readonly conversations: ConversationRepository,
    private readonly messages: MessageReader,
  ) {}

  async list(callerId: string, userId: string, limit: number, cursor?: string): Promise<ConversationPage> {
    if (callerId !== userId) throw new ForbiddenError('Only the user may list their conversations');
    const after = cursor === undefined ? undefined : listCursor.decode(cursor);
    const memberships = await this.conversations.getMemberships(
      userId,
      await this.conversations.listConversationIdsOf(userId),
    );
    const membershipOf = new Map(memberships.map(({ member }) => [member.conversationId, member]));

    const ordered = memberships
      .map(({ conversation }) => ({ conversation, position: positionOf(conversation) }))
      .sort((a, b) => compareNewestFirst(a.position, b.position))
      .filter(({ position }) => after === undefined || compareNewestFirst(position, after) > 0);
    const page = ordered.slice(0, limit);

    // The last message, not the last change: an edit, delete or reaction shows in the message it changed.
    const [lastMessages, unreadCounts] = await Promise.all([
      this.messages.getMany(
        page
          .filter(({ conversation }) => lastMessageSeqOf(conversation) > 0)
          .map(({ conversation }) => ({ conversationId: conversation.id, seq: lastMessageSeqOf(conversation) })),
      ),
      Promise.all(
        page.map(({ conversation }) =>
          unreadOf(this.messages, conversation, membershipOf.get(conversation.id) as Member),
        ),
      ),
    ]);
    const lastMessageOf = new Map(lastMessages.map((message) => [message.conversationId, message]));

    const conversations = page.map(({ conversation }, i): ConversationSummary => {
      const member = membershipOf.get(conversation.id) as Member;
      const last = lastMessageOf.get(conversation.id);
      return {
        ...conversation,
        role: member.role,
        // A void only fills an abandoned seq; there is nothing to show for it.
        ...(last && last.type !== 'void' ? { lastMessage: toWireMessage(last) } : {}),
        unreadCount: unreadCounts[i] ?? 0,
      };
    });
    const lastOnPage = page.at(-1);
    return {
      conversations,
      ...(ordered.length > limit && lastOnPage ? { cursor: listCursor.encode(lastOnPage.position) } : {}),
    };
  }
}

/**
 * Entries after the member's read mark, their latest send or, before either, their join, less the
 * changes (edits, deletes, reactions) among them. The meta item tells when none lie there; only a
 * conversation with both messages and changes since the mark pays one Query, of at most
 * `maxCountedUnread` seqs, that counts the changes (changes older than that are not subtracted).
 */
async function unreadOf(messages: MessageReader, conversation: Conversation, member: Member): Promise<number> {
  const mark = Math.max(member.joinedSeq, member.readSeq ?? 0, member.lastSentSeq ?? 0);
  const lastMessageSeq = lastMessageSeqOf(conversation);
  if (lastMessageSeq <= mark) return 0;
  if ((conversation.lastChangeSeq ?? 0) <= mark) return lastMessageSeq - mark;
  const from = Math.max(mark, lastMessageSeq - maxCountedUnread);
  return Math.max(0, lastMessageSeq - mark - (await messages.countChanges(conversation.id, from, lastMessageSeq)));
}

/** Counts this large show as "99+" anyway: changes further back than this are not looked for. */
const maxCountedUnread = 500;

const lastMessageSeqOf = (conversation: Conversation) => conversation.lastMessageSeq ?? conversation.lastSeq;

function positionOf(conversation: Conversation): Position {
  return { at: conversation.lastMessageAt ?? conversation.createdAt, id: conversation.id };
}

/** Negative when `a` comes first: newer activity first, then the higher id. */
function compareNewestFirst(a: Position, b: Position): number {
  if (a.at !== b.at) return a.at < b.at ? 1 : -1;
  return a.id === b.id ? 0 : a.id < b.id ? 1 : -1;
}
