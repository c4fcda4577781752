import { ulid } from 'ulid';
import { limits } from '../config/limits';
import { BadRequestError, NotFoundError } from '../errors';
import type { Conversation, ConversationType, Member } from '../model';
import type { ConversationRepository } from '../repositories/conversation-repository';
import type { Clock } from './clock';

export interface CreateConversationInput {
  readonly creatorId: string;
  readonly type: ConversationType;
  readonly name?: string;
  readonly memberIds: readonly string[];
}

export interface ConversationView extends Conversation {
  readonly members: readonly Omit<Member, 'conversationId'>[];
}

export class ConversationService {
  constructor(
    private readonly conversations: ConversationRepository,
    private readonly clock: Clock,
  ) {}

  async create(input: CreateConversationInput): Promise<ConversationView> {
    const others = [...new Set(input.memberIds)].filter((userId) => userId !== input.creatorId);
    if (input.type === 'direct') {
      if (others.length !== 1) throw new BadRequestError('A direct conversation has exactly one other member');
      if (input.name !== undefined) throw new BadRequestError('A direct conversation has no name');
    }
    if (others.length + 1 > limits.maxGroupMembers) {
      throw new BadRequestError(`A group holds at most ${limits.maxGroupMembers} members`);
    }
    const id = ulid();
    const createdAt = this.clock.now().toISOString();
    const members: Member[] = [
      {
        conversationId: id,
        userId: input.creatorId,
        role: input.type === 'group' ? 'admin' : 'member',
        joinedAt: createdAt,
        joinedSeq: 1,
      },
      ...others.map((userId): Member => ({ conversationId: id, userId, role: 'member', joinedAt: createdAt, joinedSeq: 1 })),
    ];
    const conversation: Conversation = {
      id,
      type: input.type,
      ...(input.name !== undefined ? { name: input.name } : {}),
      historyVisibility: 'joined',
      createdBy: input.creatorId,
      createdAt,
      lastSeq: 0,
      memberCount: members.length,
    };
    await this.conversations.create(conversation, members);
    return view(conversation, members);
  }

  /** Members only; anyone else gets the same not_found as for a conversation that does not exist. */
  async get(conversationId: string, callerId: string): Promise<ConversationView> {
    const { conversation, members } = await this.conversations.getWithMembers(conversationId);
    if (!conversation || !members.some((member) => member.userId === callerId)) {
      throw new NotFoundError('Conversation not found');
    }
    return view(conversation, members);
  }
}

function view(conversation: Conversation, members: readonly Member[]): ConversationView {
  return {
    ...conversation,
    members: members.map(({ conversationId: _omitted, ...member }) => member),
  };
}
