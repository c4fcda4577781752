import { ulid } from 'ulid';
import type { Clock } from '../clock';
import { limits } from '../config/limits';
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError } from '../errors';
import { messageIds } from '../keys';
import type { Conversation, ConversationType, HistoryVisibility, Member, StoredMessage, TimelineEvent } from '../model';
import type { ConversationRepository } from '../repositories/conversation-repository';
import type { TimelineEffects } from '../repositories/message-repository';
import type { DirectDelivery } from './direct-delivery-service';
import type { TimelineWriter } from './timeline-writer';

export interface CreateConversationInput {
  readonly creatorId: string;
  readonly type: ConversationType;
  readonly name?: string;
  readonly memberIds: readonly string[];
  readonly historyVisibility?: HistoryVisibility;
}

export interface ConversationView extends Conversation {
  readonly members: readonly Pick<Member, 'userId' | 'role' | 'joinedAt' | 'joinedSeq'>[];
}

const notFound = () => new NotFoundError('Conversation not found');

/** Runs before anyone joins a group, with the users about to join: throws to refuse them (consent to be added). */
export type AdmitToGroup = (joining: readonly string[]) => Promise<void>;

/**
 * Conversations and their membership. Every change (creation, members added, removed or leaving,
 * renaming) is also a `system` message in the conversation's timeline, committed in the same
 * transaction as the change, so every device learns of it through fan-out, sync and history.
 */
export class ConversationService {
  constructor(
    private readonly conversations: ConversationRepository,
    private readonly timeline: TimelineWriter,
    private readonly clock: Clock,
    private readonly direct?: DirectDelivery,
  ) {}

  /** Answers `created: false` with the existing conversation when a direct pair already has one. */
  async create(
    input: CreateConversationInput,
    admitToGroup?: AdmitToGroup,
  ): Promise<{ conversation: ConversationView; created: boolean }> {
    const others = [...new Set(input.memberIds)].filter((userId) => userId !== input.creatorId);
    if (input.type === 'direct') {
      if (others.length !== 1) throw new BadRequestError('A direct conversation has exactly one other member');
      if (input.name !== undefined) throw new BadRequestError('A direct conversation has no name');
      if (input.historyVisibility !== undefined)
        throw new BadRequestError('A direct conversation has no history setting');
    }
    if (others.length + 1 > limits.maxGroupMembers) {
      throw new BadRequestError(`A group holds at most ${limits.maxGroupMembers} members`);
    }
    if (input.type === 'group') await admitToGroup?.(others);
    const id = ulid();
    const createdAt = this.clock.now().toISOString();
    // The creation event is the first entry, seq 1: every founding member sees it.
    const member = (userId: string, role: Member['role']): Member => ({
      conversationId: id,
      userId,
      role,
      joinedAt: createdAt,
      joinedSeq: 1,
    });
    const members = [
      member(input.creatorId, input.type === 'group' ? 'admin' : 'member'),
      ...others.map((userId) => member(userId, 'member')),
    ];
    const conversation: Conversation = {
      id,
      type: input.type,
      ...(input.name !== undefined ? { name: input.name } : {}),
      historyVisibility: input.historyVisibility ?? 'joined',
      createdBy: input.creatorId,
      createdAt,
      lastSeq: 1,
      lastMessageAt: createdAt,
      memberCount: members.length,
    };
    const direct = this.directFor(members.length);
    const created = systemMessage(
      id,
      1,
      createdAt,
      {
        kind: 'created',
        actorId: input.creatorId,
        memberIds: members.map((m) => m.userId),
        ...(input.name !== undefined ? { name: input.name } : {}),
      },
      direct !== undefined,
    );
    const pair = input.type === 'direct' ? ([input.creatorId, others[0] as string] as const) : undefined;
    const { existingConversationId } = await this.timeline.startConversation(conversation, members, created, pair);
    if (existingConversationId) {
      return { conversation: await this.get(existingConversationId, input.creatorId), created: false };
    }
    await direct?.deliver(
      created,
      members.map((m) => m.userId),
    );
    return { conversation: await this.get(id, input.creatorId), created: true };
  }

  /** Members only; anyone else gets the same not_found as for a conversation that does not exist. */
  async get(conversationId: string, callerId: string): Promise<ConversationView> {
    const { conversation, members } = await this.conversations.getWithMembers(conversationId);
    if (!conversation || !members.some((m) => m.userId === callerId)) throw notFound();
    return view(conversation, members);
  }

  async rename(conversationId: string, callerId: string, name: string): Promise<ConversationView> {
    const { conversation } = await this.adminOfGroup(conversationId, callerId);
    await this.record(conversation, { kind: 'renamed', actorId: callerId, name }, () => ({ rename: name }));
    return this.get(conversationId, callerId);
  }

  /**
   * Admins add members; the group limit holds under concurrent adds (a bound on memberCount in the
   * same transaction). A transaction holds 100 actions, so one event adds at most 98 members; a
   * larger add is recorded as several events.
   */
  async addMembers(
    conversationId: string,
    callerId: string,
    userIds: readonly string[],
    admitToGroup?: AdmitToGroup,
  ): Promise<ConversationView> {
    const { conversation, members, formerMembers } = await this.adminOfGroup(conversationId, callerId);
    const present = new Set(members.map((m) => m.userId));
    const joining = [...new Set(userIds)].filter((userId) => !present.has(userId));
    if (joining.length === 0) return view(conversation, members);
    if (conversation.memberCount + joining.length > limits.maxGroupMembers) throw groupFull();
    // Members already present are not asked again: only who would join.
    await admitToGroup?.(joining);
    const batch = joining.slice(0, MAX_MEMBERS_PER_EVENT);
    const at = this.clock.now().toISOString();
    const former = new Map(formerMembers.map((m) => [m.userId, m]));
    const outcome = await this.record(
      conversation,
      { kind: 'membersAdded', actorId: callerId, userIds: batch },
      (seq) => ({
        memberLimit: limits.maxGroupMembers,
        joins: batch.map((userId) => ({
          member: { conversationId, userId, role: 'member', joinedAt: at, joinedSeq: seq },
          ...(former.has(userId) ? { former: former.get(userId) } : {}),
        })),
      }),
    );
    // Refused effects: a concurrent add filled the group or added one of these users; re-read to tell which.
    if (outcome === 'effectRejected') {
      const again = await this.conversations.getWithMembers(conversationId);
      const stillJoining = joining.filter((userId) => !again.members.some((m) => m.userId === userId));
      if (stillJoining.length > 0 && again.members.length + stillJoining.length > limits.maxGroupMembers) {
        throw groupFull();
      }
      return this.addMembers(conversationId, callerId, userIds, admitToGroup);
    }
    if (joining.length > batch.length) {
      return this.addMembers(conversationId, callerId, joining.slice(batch.length), admitToGroup);
    }
    return this.get(conversationId, callerId);
  }

  /** Admins remove anyone; anyone may remove themselves. The last admin leaving promotes the longest-standing member. */
  removeMember(conversationId: string, callerId: string, userId: string): Promise<void> {
    return this.remove(conversationId, callerId, userId, false);
  }

  /** A deleted account leaves every conversation, direct ones included (the other side keeps the history). */
  leaveOnAccountDeletion(conversationId: string, userId: string): Promise<void> {
    return this.remove(conversationId, userId, userId, true);
  }

  private async remove(
    conversationId: string,
    callerId: string,
    userId: string,
    allowDirect: boolean,
    attempt = 1,
  ): Promise<void> {
    const { conversation, members } = await this.conversations.getWithMembers(conversationId);
    const caller = members.find((m) => m.userId === callerId);
    if (!conversation || !caller) throw notFound();
    if (conversation.type === 'direct' && !allowDirect) {
      throw new BadRequestError('Members of a direct conversation cannot change');
    }
    const leaving = callerId === userId;
    if (!leaving && caller.role !== 'admin') throw new ForbiddenError('Only an admin can remove members');
    const target = members.find((m) => m.userId === userId);
    if (!target) throw new NotFoundError('Not a member of this conversation');

    const remaining = members.filter((m) => m.userId !== userId);
    // A group must keep an admin: the departure either counts on one who stays, or promotes a successor.
    const keeper = target.role === 'admin' ? remaining.find((m) => m.role === 'admin') : undefined;
    const successor =
      target.role === 'admin' && !keeper
        ? [...remaining].sort((a, b) => a.joinedSeq - b.joinedSeq || a.joinedAt.localeCompare(b.joinedAt))[0]
        : undefined;
    const event: TimelineEvent = leaving
      ? { kind: 'memberLeft', actorId: callerId, userId }
      : { kind: 'memberRemoved', actorId: callerId, userId };
    const outcome = await this.record(conversation, event, () => ({
      leaves: target,
      ...(successor ? { promotes: successor.userId } : {}),
      ...(keeper ? { adminRemains: keeper.userId } : {}),
    }));
    // Refused: the target already went, or the admin we counted on (or the successor) left meanwhile.
    if (outcome === 'effectRejected' && attempt < MAX_MEMBERSHIP_ATTEMPTS) {
      const again = await this.conversations.getWithMembers(conversationId);
      if (!again.members.some((m) => m.userId === userId)) return;
      return this.remove(conversationId, callerId, userId, allowDirect, attempt + 1);
    }
    if (outcome === 'effectRejected') throw new ConflictError('The group is changing; retry');
  }

  private async adminOfGroup(conversationId: string, callerId: string) {
    const { conversation, members, formerMembers } = await this.conversations.getWithMembers(conversationId);
    const caller = members.find((m) => m.userId === callerId);
    if (!conversation || !caller) throw notFound();
    if (conversation.type !== 'group') throw new BadRequestError('Only a group conversation can change');
    if (caller.role !== 'admin') throw new ForbiddenError('Only an admin can change the group');
    return { conversation, members, formerMembers };
  }

  /** Appends a system event with its effects; answers 'effectRejected' when the effects were refused. */
  private async record(
    conversation: Conversation,
    event: TimelineEvent,
    effects: (seq: number) => TimelineEffects = () => ({}),
  ): Promise<'stored' | 'effectRejected'> {
    const direct = this.directFor(conversation.memberCount);
    const result = await this.timeline.append(conversation.id, conversation.lastSeq, (seq, at) => ({
      message: systemMessage(conversation.id, seq, at, event, direct !== undefined),
      effects: effects(seq),
    }));
    if (result.kind === 'effectRejected') return 'effectRejected';
    // Who gets the event (a removed member included) is read after the commit; none were read before it.
    if (result.kind === 'stored') await direct?.deliver(result.message, []);
    return 'stored';
  }

  /** The fast path, when it is on and takes a conversation of this size. */
  private directFor(memberCount: number): DirectDelivery | undefined {
    return this.direct?.covers(memberCount) ? this.direct : undefined;
  }
}

function systemMessage(
  conversationId: string,
  seq: number,
  createdAt: string,
  event: TimelineEvent,
  directDelivery: boolean,
): StoredMessage {
  return {
    id: messageIds.format(conversationId, seq),
    conversationId,
    seq,
    senderId: event.actorId,
    type: 'system',
    text: '',
    createdAt,
    event,
    ...(directDelivery ? { directDelivery: true } : {}),
  };
}

/** Re-reads after a membership change lost a race, before answering conflict. */
const MAX_MEMBERSHIP_ATTEMPTS = 5;

/** A transaction's 100 actions, less the meta update and the event itself. */
const MAX_MEMBERS_PER_EVENT = 98;

const groupFull = () => new ConflictError(`A group holds at most ${limits.maxGroupMembers} members`);

/** Read positions stay out of the view: they are receipts, shown only as their owner allows. */
function view(conversation: Conversation, members: readonly Member[]): ConversationView {
  return {
    ...conversation,
    members: members.map(({ userId, role, joinedAt, joinedSeq }) => ({ userId, role, joinedAt, joinedSeq })),
  };
}
