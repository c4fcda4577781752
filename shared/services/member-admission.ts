import { NotFoundError } from '../errors';
import type { Member } from '../model';
import type { ConversationRepository, MembershipSnapshot } from '../repositories/conversation-repository';
import type { DirectDelivery } from './direct-delivery-service';

/**
 * Reads membership while `admission` (the writer's rate-limit charge) runs, so nothing is written
 * unless it passes, and refuses a non-member. With the fast path on for this conversation, starts
 * reading the recipients' connections, so they are in hand when the commit lands.
 */
export async function admitMember(
  conversations: ConversationRepository,
  direct: DirectDelivery | undefined,
  conversationId: string,
  userId: string,
  admission?: Promise<void>,
) {
  const [, { conversation, member, members, membershipAt, directMemberIds }] = await Promise.all([
    admission,
    readMembership(conversations, direct, conversationId, userId),
  ]);
  // Same answer for "no such conversation" and "not yours": ids cannot be probed.
  if (!conversation || !member) throw new NotFoundError('Conversation not found');
  const covering = members && direct?.covers(conversation.memberCount) ? direct : undefined;
  const fastPath =
    covering && members
      ? {
          direct: covering,
          members,
          prefetched: covering.prefetch(members.map((candidate) => candidate.userId)),
        }
      : undefined;
  // Both still listed on the meta item: the sender's next send may skip this read (`directChat`).
  const directPeerId =
    conversation.type === 'direct' && directMemberIds?.length === 2 && directMemberIds.includes(userId)
      ? directMemberIds.find((memberId) => memberId !== userId)
      : undefined;
  return {
    conversation,
    member,
    fastPath,
    ...(membershipAt !== undefined ? { membershipAt } : {}),
    ...(directPeerId !== undefined ? { directPeerId } : {}),
  };
}

/**
 * With the fast path on, one strongly consistent Query of the conversation's partition gives the
 * members too (for a direct chat cheaper than the two-key BatchGetItem: one read unit, not two).
 * It reads the meta item first, so the rows show every membership change up to its lastSeq
 * (`membershipAt`); the BatchGetItem reads the two items in no set order, so it proves nothing.
 */
async function readMembership(
  conversations: ConversationRepository,
  direct: DirectDelivery | undefined,
  conversationId: string,
  userId: string,
): Promise<
  MembershipSnapshot & {
    readonly members?: readonly Member[];
    readonly membershipAt?: number;
    readonly directMemberIds?: readonly string[];
  }
> {
  if (!direct || direct.settings.maxMembers === 0) {
    return conversations.getMembership(conversationId, userId);
  }
  const { conversation, queue, members, directMemberIds } = await conversations.getWithMembers(conversationId);
  const member = members.find((candidate) => candidate.userId === userId);
  return {
    ...(conversation && queue ? { conversation: { ...conversation, ...queue } } : {}),
    ...(member ? { member } : {}),
    members,
    ...(conversation ? { membershipAt: conversation.lastSeq } : {}),
    ...(directMemberIds ? { directMemberIds } : {}),
  };
}
