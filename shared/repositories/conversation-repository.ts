import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { tables } from '../config/tables';
import { conversationKeys } from '../keys';
import { type Conversation, type ConversationType, isCurrentMember, type Member, type MemberRole } from '../model';
import { batchGetAll } from './batch-get';
import { queryAll } from './query-all';

const BY_MEMBER = tables.conversations.globalIndexes[0].indexName;

/** What a send needs to know in one read: does the conversation exist, is the caller in it, what is its last seq. */
export interface MembershipSnapshot {
  /**
   * With the meta item's `nextSeq`, the last seq handed out (past lastSeq while sends queue for their
   * seqs), and `lastRunAt`, when a run of queued sends last committed (epoch ms): how hot it is.
   */
  readonly conversation?: QueuedConversation;
  readonly member?: Member;
}

/** The meta item's seq queue: the last seq handed out as a ticket, and when a run last committed (epoch ms). */
export interface SeqQueue {
  readonly nextSeq: number;
  readonly lastRunAt?: number;
}

export type QueuedConversation = Conversation & SeqQueue;

function toSeqQueue(meta: Record<string, unknown>): SeqQueue {
  return {
    nextSeq: Number(meta.nextSeq ?? meta.lastSeq ?? 0),
    ...(typeof meta.lastRunAt === 'number' ? { lastRunAt: meta.lastRunAt } : {}),
  };
}

function toQueuedConversation(meta: Record<string, unknown>): QueuedConversation {
  return { ...toConversation(meta), ...toSeqQueue(meta) };
}

/**
 * The meta item's set of a direct chat's current members: both from creation, and a member leaves it
 * in the same transaction as their leaving event. Absent on groups, and on direct chats created before
 * it was kept (their sends always read first).
 */
export const directMemberIdsAttribute = 'directMemberIds';

/**
 * A direct conversation's meta item keeps a member's last send (`lastSentSeq#<userId>`) when their
 * send committed uncontended (see `TimelineEffects.lastSendOnMetaAt`); otherwise the member row
 * keeps it. The later of the two is the member's last send.
 */
export const metaLastSend = {
  attribute: (userId: string) => `lastSentSeq#${userId}`,
  of(meta: Readonly<Record<string, unknown>> | undefined, userId: string): number | undefined {
    const value = meta?.[metaLastSend.attribute(userId)];
    return value === undefined ? undefined : Number(value);
  },
};

/** `member` with the later of its row's and the meta item's last send. */
function withMetaLastSend(member: Member, meta: Readonly<Record<string, unknown>> | undefined): Member {
  const onMeta = metaLastSend.of(meta, member.userId);
  return onMeta === undefined || onMeta <= (member.lastSentSeq ?? 0) ? member : { ...member, lastSentSeq: onMeta };
}

export class ConversationRepository {
  constructor(
    private readonly documentClient: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * One BatchGetItem for meta and the caller's member row: strongly consistent unless the caller
   * re-reads strongly whenever what it got may be stale (`consistentRead: false`, half the units).
   */
  /** The user's member row as stored, a past membership (leftSeq) included: what an inbox pointer may replay. */
  async memberRow(conversationId: string, userId: string): Promise<Member | undefined> {
    const result = await this.documentClient.send(
      new GetCommand({
        TableName: this.tableName,
        Key: conversationKeys.member(conversationId, userId),
        ConsistentRead: true,
      }),
    );
    return result.Item ? toMember(result.Item) : undefined;
  }

  async getMembership(
    conversationId: string,
    userId: string,
    { consistentRead = true }: { readonly consistentRead?: boolean } = {},
  ): Promise<MembershipSnapshot> {
    const metaKey = conversationKeys.meta(conversationId);
    const memberKey = conversationKeys.member(conversationId, userId);
    // Under throttling DynamoDB answers part of a batch (UnprocessedKeys): batchGetAll asks again for the rest.
    const items = await batchGetAll(this.documentClient, this.tableName, [metaKey, memberKey], consistentRead);
    const meta = items.find((item) => item.sk === metaKey.sk);
    const memberItem = items.find((item) => item.sk === memberKey.sk);
    const member = memberItem ? withMetaLastSend(toMember(memberItem), meta) : undefined;
    return {
      ...(meta
        ? {
            conversation: toQueuedConversation(meta),
          }
        : {}),
      ...(member && isCurrentMember(member) ? { member } : {}),
    };
  }

  /**
   * Meta, current members and former members (rows kept with leftSeq) in one Query of the partition,
   * short of the sends parked there during a burst (they sort last). Read from the top, so META
   * ('META' > 'MEMBER#') comes before the member rows: the rows then show at least every membership
   * change up to META's lastSeq, and exactly those if the next entry to commit is the reader's own.
   */
  async getWithMembers(conversationId: string): Promise<{
    conversation?: Conversation;
    queue?: SeqQueue;
    members: Member[];
    formerMembers: Member[];
    /** The meta item's `directMemberIds`, when it keeps them. */
    directMemberIds?: readonly string[];
  }> {
    const items = await queryAll(this.documentClient, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND sk < :parked',
      ExpressionAttributeValues: {
        ':pk': conversationKeys.partition(conversationId),
        ':parked': conversationKeys.parkedPrefix,
      },
      ConsistentRead: true,
      ScanIndexForward: false,
    });
    const meta = items.find((item) => item.sk === 'META');
    const rows = items
      .filter((item) => String(item.sk).startsWith(conversationKeys.memberPrefix))
      .map((item) => withMetaLastSend(toMember(item), meta))
      // In the key order readers have always had.
      .reverse();
    const directMemberIds = meta?.[directMemberIdsAttribute];
    return {
      ...(meta ? { conversation: toConversation(meta), queue: toSeqQueue(meta) } : {}),
      ...(directMemberIds instanceof Set ? { directMemberIds: [...directMemberIds].map(String) } : {}),
      members: rows.filter(isCurrentMember),
      formerMembers: rows.filter((member) => !isCurrentMember(member)),
    };
  }

  /**
   * The ids of every conversation a user currently belongs to, from the `byMember` index (eventually
   * consistent; it holds no marks, so read the member rows for those).
   */
  async listConversationIdsOf(userId: string): Promise<string[]> {
    const items = await queryAll(this.documentClient, {
      TableName: this.tableName,
      IndexName: BY_MEMBER,
      KeyConditionExpression: 'memberUserId = :userId',
      ExpressionAttributeValues: { ':userId': userId },
    });
    return items.filter((item) => item.leftSeq === undefined).map((item) => String(item.conversationId));
  }

  /**
   * The user's current memberships of these conversations, each with its conversation: metas and
   * member rows in one BatchGetItem. Missing ones are skipped (a half-created conversation has no
   * meta; a member who has left since the index was read has a `leftSeq`).
   */
  async getMemberships(
    userId: string,
    conversationIds: readonly string[],
  ): Promise<{ conversation: Conversation; member: Member }[]> {
    const keys = conversationIds.flatMap((id) => [conversationKeys.meta(id), conversationKeys.member(id, userId)]);
    const items = await batchGetAll(this.documentClient, this.tableName, keys);
    const metas = new Map<string, Record<string, unknown>>();
    const members = new Map<string, Member>();
    for (const item of items) {
      if (item.sk === 'META') {
        metas.set(String(item.id), item);
      } else {
        const member = toMember(item);
        if (isCurrentMember(member)) members.set(member.conversationId, member);
      }
    }
    return [...members.values()].flatMap((member) => {
      const meta = metas.get(member.conversationId);
      return meta ? [{ conversation: toConversation(meta), member: withMetaLastSend(member, meta) }] : [];
    });
  }

  /** Member rows only, past members' included: fan-out serves each message to who belonged at its seq. */
  async listMembers(conversationId: string): Promise<Member[]> {
    const items = await queryAll(this.documentClient, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: {
        ':pk': conversationKeys.partition(conversationId),
        ':prefix': conversationKeys.memberPrefix,
      },
      // Strong reads: a member removed a moment ago must not receive the next message.
      ConsistentRead: true,
    });
    return items.map(toMember);
  }
}

/** Transaction items for a new conversation: its meta item, its member rows, a direct pair's claim. */
export const conversationWrites = {
  /** A direct chat's meta item lists its two members (`directMemberIds`), for sends that skip the read. */
  meta: (tableName: string, conversation: Conversation, directPair?: readonly [string, string]) => ({
    Put: {
      TableName: tableName,
      Item: {
        ...metaItem(conversation),
        ...(directPair ? { [directMemberIdsAttribute]: new Set(directPair) } : {}),
      },
      ConditionExpression: 'attribute_not_exists(pk)',
    },
  }),
  member: (tableName: string, member: Member) => ({ Put: { TableName: tableName, Item: memberItem(member) } }),
  /** Taken once per pair of users; a taken claim answers the conversation that holds it. */
  directPair: (tableName: string, pair: readonly [string, string], conversationId: string) => ({
    Put: {
      TableName: tableName,
      Item: { ...conversationKeys.directPair(...pair), conversationId },
      ConditionExpression: 'attribute_not_exists(pk)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    },
  }),
};

/** Transaction items for membership changes, committed with their timeline event. */
export const memberWrites = {
  /**
   * A new member's row, or a former member's row replaced: they rejoin from the new event on and
   * keep their earlier periods, so fan-out running behind still serves those.
   */
  add: (tableName: string, member: Member, former?: Member) => {
    if (!former || former.leftSeq === undefined) {
      return {
        Put: { TableName: tableName, Item: memberItem(member), ConditionExpression: 'attribute_not_exists(pk)' },
      };
    }
    const earlierPeriods = [...(former.earlierPeriods ?? []), [former.joinedSeq, former.leftSeq] as const];
    return {
      Put: {
        TableName: tableName,
        Item: memberItem({ ...member, earlierPeriods }),
        // Exactly the row that was read: no concurrent rejoin or removal slipped in between.
        ConditionExpression: 'leftSeq = :formerLeftSeq',
        ExpressionAttributeValues: { ':formerLeftSeq': former.leftSeq },
      },
    };
  },
  /**
   * The row stays with the seq of the event that ended the membership. The role must still be the
   * one the decision was made on (a member promoted meanwhile may be the group's last admin).
   */
  remove: (tableName: string, member: Member, leftSeq: number) => ({
    Update: {
      TableName: tableName,
      Key: conversationKeys.member(member.conversationId, member.userId),
      UpdateExpression: 'SET leftSeq = :leftSeq',
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(leftSeq) AND #role = :role',
      ExpressionAttributeNames: { '#role': 'role' },
      ExpressionAttributeValues: { ':leftSeq': leftSeq, ':role': member.role },
    },
  }),
  /** In a send's transaction: the sender is still a member at this seq; their last send moves to it. */
  send: (tableName: string, conversationId: string, userId: string, seq: number) => ({
    Update: {
      TableName: tableName,
      Key: conversationKeys.member(conversationId, userId),
      UpdateExpression: 'SET lastSentSeq = :seq',
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(leftSeq)',
      ExpressionAttributeValues: { ':seq': seq },
    },
  }),
  /** In a change's transaction: its author is still a member at this seq (nothing of theirs moves). */
  belongs: (tableName: string, conversationId: string, userId: string) => ({
    ConditionCheck: {
      TableName: tableName,
      Key: conversationKeys.member(conversationId, userId),
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(leftSeq)',
    },
  }),
  promote: (tableName: string, conversationId: string, userId: string) => ({
    Update: {
      TableName: tableName,
      Key: conversationKeys.member(conversationId, userId),
      UpdateExpression: 'SET #role = :admin',
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(leftSeq)',
      ExpressionAttributeNames: { '#role': 'role' },
      ExpressionAttributeValues: { ':admin': 'admin' },
    },
  }),
  /** The admin a departure counts on to remain is still a current admin when it commits. */
  staysAdmin: (tableName: string, conversationId: string, userId: string) => ({
    ConditionCheck: {
      TableName: tableName,
      Key: conversationKeys.member(conversationId, userId),
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(leftSeq) AND #role = :admin',
      ExpressionAttributeNames: { '#role': 'role' },
      ExpressionAttributeValues: { ':admin': 'admin' },
    },
  }),
};

function metaItem(conversation: Conversation): Record<string, unknown> {
  // nextSeq counts seq tickets handed out under contention; it equals lastSeq when none are outstanding.
  return {
    ...conversationKeys.meta(conversation.id),
    ...conversation,
    nextSeq: conversation.lastSeq,
    lastMessageSeq: conversation.lastMessageSeq ?? conversation.lastSeq,
    entity: 'conversation',
  };
}

function memberItem(member: Member): Record<string, unknown> {
  return {
    ...conversationKeys.member(member.conversationId, member.userId),
    entity: 'member',
    conversationId: member.conversationId,
    // Named apart from userId so only member rows land in the byMember index.
    memberUserId: member.userId,
    role: member.role,
    joinedAt: member.joinedAt,
    joinedSeq: member.joinedSeq,
    ...(member.earlierPeriods && member.earlierPeriods.length > 0 ? { earlierPeriods: member.earlierPeriods } : {}),
  };
}

function toConversation(item: Record<string, unknown>): Conversation {
  return {
    id: String(item.id),
    type: item.type as ConversationType,
    ...(typeof item.name === 'string' ? { name: item.name } : {}),
    historyVisibility: item.historyVisibility === 'all' ? 'all' : 'joined',
    createdBy: String(item.createdBy),
    createdAt: String(item.createdAt),
    lastSeq: Number(item.lastSeq ?? 0),
    ...(typeof item.lastMessageAt === 'string' ? { lastMessageAt: item.lastMessageAt } : {}),
    memberCount: Number(item.memberCount ?? 0),
    ...(item.lastMessageSeq !== undefined ? { lastMessageSeq: Number(item.lastMessageSeq) } : {}),
    ...(item.lastChangeSeq !== undefined ? { lastChangeSeq: Number(item.lastChangeSeq) } : {}),
  };
}

function toMember(item: Record<string, unknown>): Member {
  return {
    conversationId: String(item.conversationId),
    userId: String(item.memberUserId),
    role: item.role as MemberRole,
    joinedAt: String(item.joinedAt),
    joinedSeq: Number(item.joinedSeq ?? 1),
    ...(item.leftSeq !== undefined ? { leftSeq: Number(item.leftSeq) } : {}),
    ...(item.readSeq !== undefined ? { readSeq: Number(item.readSeq) } : {}),
    ...(item.lastSentSeq !== undefined ? { lastSentSeq: Number(item.lastSentSeq) } : {}),
    ...(item.deliveredSeq !== undefined ? { deliveredSeq: Number(item.deliveredSeq) } : {}),
    ...(Array.isArray(item.earlierPeriods)
      ? {
          earlierPeriods: (item.earlierPeriods as unknown[][]).map(
            ([joined, left]) => [Number(joined), Number(left)] as const,
          ),
        }
      : {}),
  };
}
