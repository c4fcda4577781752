import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { conversationKeys, idempotencyKey, messageIds } from '../keys';
import type { Conversation, Member, MessageAttachment, MessageType, StoredMessage, TimelineEvent } from '../model';
import { batchGetAll } from './batch-get';
import { conversationWrites } from './conversation-repository';
import { queryAll } from './query-all';
import { effectWrites, type TimelineEffects } from './timeline-effects';
import type { TransactItem } from './transact-item';

export type { TimelineEffects } from './timeline-effects';

export interface TableNames {
  readonly conversations: string;
  readonly messages: string;
  readonly idempotency: string;
  /** Only writers of messages that carry attachments need (and are granted) it. */
  readonly attachments?: string;
}

/**
 * How a message claims its seq:
 * - `optimistic`: the uncontended path, no ticket: commits at lastSeq + 1 if lastSeq and nextSeq
 *   both still equal the expected value (nobody committed or queued meanwhile).
 * - `ticket`: the seq was taken with {@link MessageRepository.takeTicket}; commits once the
 *   previous seq has committed, so tickets commit strictly in order.
 */
export type CommitMode = 'optimistic' | 'ticket';

export type CommitOutcome =
  | { readonly kind: 'stored'; readonly message: StoredMessage }
  /** The same sender already sent this clientMessageId: here is the original. */
  | { readonly kind: 'duplicate'; readonly message: StoredMessage }
  /** The seq is not this message's to take yet (or any more): `lastSeq` is the committed seq now. */
  | { readonly kind: 'notNext'; readonly lastSeq: number; readonly nextSeq: number }
  | { readonly kind: 'conversationGone' }
  /** A bound in `metaAtMost` or a condition of an extra item failed; nothing was written. */
  | { readonly kind: 'effectRejected' };

/** DynamoDB's cap on actions in one TransactWriteItems. */
const MAX_TRANSACTION_ACTIONS = 100;

/** Where each action sits in the commit transaction, to read its cancellation reason. */
const META_UPDATE = 0;
const MESSAGE_PUT = 1;

/** Reads of the messages table alone: what history and listings need, with no grant beyond it. */
export class MessageReader {
  constructor(
    protected readonly documentClient: DynamoDBDocumentClient,
    protected readonly messagesTable: string,
  ) {}

  /** `consistent` when the message may have committed a moment ago (a retry finding its original). */
  async get(conversationId: string, seq: number, consistent = false): Promise<StoredMessage | undefined> {
    const result = await this.documentClient.send(
      new GetCommand({ TableName: this.messagesTable, Key: { conversationId, seq }, ConsistentRead: consistent }),
    );
    return result.Item ? toStoredMessage(result.Item) : undefined;
  }

  /**
   * One page of the timeline in seq order, one Query: `fromSeqExclusive` is where the previous page
   * stopped, and the key condition starts at `floorSeq`, so no seq below it is ever read.
   */
  async page(conversationId: string, request: TimelinePageRequest): Promise<TimelinePage> {
    const ascending = request.direction === 'ascending';
    const low = ascending ? Math.max(request.floorSeq, (request.fromSeqExclusive ?? 0) + 1) : request.floorSeq;
    const high = ascending || request.fromSeqExclusive === undefined ? undefined : request.fromSeqExclusive - 1;
    // BETWEEN refuses an empty range, and nothing lies in one.
    if (high !== undefined && high < low) return { messages: [], hasMore: false };
    const result = await this.documentClient.send(
      new QueryCommand({
        TableName: this.messagesTable,
        KeyConditionExpression:
          high === undefined
            ? 'conversationId = :conversationId AND seq >= :low'
            : 'conversationId = :conversationId AND seq BETWEEN :low AND :high',
        ExpressionAttributeValues: {
          ':conversationId': conversationId,
          ':low': low,
          ...(high === undefined ? {} : { ':high': high }),
        },
        ScanIndexForward: ascending,
        // One beyond the page tells whether another exists, so the last page carries no cursor.
        Limit: request.limit + 1,
        // Read-your-writes: a client that was just answered messageAccepted finds its message here.
        ConsistentRead: true,
      }),
    );
    const items = result.Items ?? [];
    return {
      messages: items.slice(0, request.limit).map(toStoredMessage),
      // LastEvaluatedKey without the extra item: the Query stopped at its 1 MB cap.
      hasMore: items.length > request.limit || result.LastEvaluatedKey !== undefined,
    };
  }

  /** Who sent the text messages in seqs (fromExclusive, toInclusive]: the senders a receipt concerns. */
  async sendersBetween(conversationId: string, fromExclusive: number, toInclusive: number): Promise<Set<string>> {
    if (toInclusive <= fromExclusive) return new Set();
    const items = await queryAll(this.documentClient, {
      TableName: this.messagesTable,
      KeyConditionExpression: 'conversationId = :conversationId AND seq BETWEEN :from AND :to',
      ExpressionAttributeNames: { '#type': 'type' },
      ExpressionAttributeValues: { ':conversationId': conversationId, ':from': fromExclusive + 1, ':to': toInclusive },
      ProjectionExpression: 'senderId, #type',
    });
    return new Set(items.filter((item) => item.type === 'text').map((item) => String(item.senderId)));
  }

  /** The messages at these (conversation, seq) keys, in one BatchGetItem per 100. */
  async getMany(keys: readonly { conversationId: string; seq: number }[]): Promise<StoredMessage[]> {
    const items = await batchGetAll(
      this.documentClient,
      this.messagesTable,
      keys.map(({ conversationId, seq }) => ({ conversationId, seq })),
    );
    return items.map(toStoredMessage);
  }
}

/** Writes to the timeline: the message, the conversation's seq and the idempotency claim together. */
export class MessageRepository extends MessageReader {
  constructor(
    documentClient: DynamoDBDocumentClient,
    private readonly tableNames: TableNames,
  ) {
    super(documentClient, tableNames.messages);
  }

  /**
   * Stores `message` at `message.seq` in one transaction that also advances the conversation's
   * lastSeq and (for real messages) claims the idempotency key. A seq commits only right after its
   * predecessor, so commit order is seq order (the stream carries a conversation in seq order), no
   * seq is skipped, and a retried clientMessageId can never produce a second message.
   */
  async commit(message: StoredMessage, mode: CommitMode, effects: TimelineEffects = {}): Promise<CommitOutcome> {
    const previous = message.seq - 1;
    // Only what a client sent carries a clientMessageId to claim; voids and system events do not.
    const claimsIdempotency = message.type === 'text';
    if (claimsIdempotency && message.clientMessageId === undefined) {
      throw new Error('commit: clientMessageId is required');
    }
    const writes = effectWrites(this.tableNames, message.conversationId, message.seq, effects);
    const meta = metaUpdate(message, mode, writes);
    const extraItems = writes.items;
    const firstExtra = MESSAGE_PUT + 1 + (claimsIdempotency ? 1 : 0);
    try {
      await this.documentClient.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tableNames.conversations,
                Key: conversationKeys.meta(message.conversationId),
                ...meta,
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
            {
              Put: {
                TableName: this.tableNames.messages,
                Item: { ...message },
                ConditionExpression: 'attribute_not_exists(seq)',
              },
            },
            ...(claimsIdempotency ? [{ Put: this.idempotencyPut(message) }] : []),
            ...extraItems,
          ],
        }),
      );
      return { kind: 'stored', message };
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      const idempotencyReason = claimsIdempotency ? reasons[MESSAGE_PUT + 1] : undefined;
      if (idempotencyReason?.Code === 'ConditionalCheckFailed' && idempotencyReason.Item) {
        return { kind: 'duplicate', message: await this.original(unmarshall(idempotencyReason.Item)) };
      }
      const metaReason = reasons[META_UPDATE];
      if (metaReason?.Code === 'ConditionalCheckFailed') {
        if (!metaReason.Item) return { kind: 'conversationGone' };
        const current = unmarshall(metaReason.Item);
        const lastSeq = Number(current.lastSeq ?? 0);
        const nextSeq = Math.max(lastSeq, Number(current.nextSeq ?? 0));
        const seqWasFree = lastSeq === previous && (mode === 'ticket' || nextSeq === previous);
        // The seq was ours to take, so a bound in metaAtMost is what failed.
        if (seqWasFree && effects.memberLimit !== undefined) return { kind: 'effectRejected' };
        return { kind: 'notNext', lastSeq, nextSeq };
      }
      if (reasons.slice(firstExtra).some((reason) => reason.Code === 'ConditionalCheckFailed')) {
        return { kind: 'effectRejected' };
      }
      // TransactionConflict: another commit touched the meta item mid-flight; try again.
      if (reasons.some((reason) => reason.Code === 'TransactionConflict')) {
        return { kind: 'notNext', lastSeq: previous, nextSeq: previous };
      }
      throw error;
    }
  }

  /**
   * Creates a conversation with its first timeline entry (seq 1): members first, then meta with the
   * entry (and, for a direct conversation, the pair's claim) in the last transaction; at most 100
   * actions each. A conversation exists once its meta item does, so a crash half-way leaves
   * nothing anyone can reach. A taken pair claim answers the existing id.
   */
  async createConversation(
    conversation: Conversation,
    members: readonly Member[],
    firstEntry: StoredMessage | undefined,
    directPair?: readonly [string, string],
  ): Promise<{ readonly existingConversationId?: string }> {
    const table = this.tableNames.conversations;
    const memberPuts = members.map((member) => conversationWrites.member(table, member));
    const final: TransactItem[] = [
      conversationWrites.meta(table, conversation),
      // The creation event commits with the conversation: nothing can take seq 1 first.
      ...(firstEntry
        ? [
            {
              Put: {
                TableName: this.tableNames.messages,
                Item: { ...firstEntry },
                ConditionExpression: 'attribute_not_exists(seq)',
              },
            },
          ]
        : []),
      ...(directPair ? [conversationWrites.directPair(table, directPair, conversation.id)] : []),
    ];
    const leading = memberPuts.slice(0, Math.max(0, memberPuts.length - (MAX_TRANSACTION_ACTIONS - final.length)));
    for (let start = 0; start < leading.length; start += MAX_TRANSACTION_ACTIONS) {
      await this.documentClient.send(
        new TransactWriteCommand({ TransactItems: leading.slice(start, start + MAX_TRANSACTION_ACTIONS) }),
      );
    }
    try {
      await this.documentClient.send(
        new TransactWriteCommand({ TransactItems: [...memberPuts.slice(leading.length), ...final] }),
      );
      return {};
    } catch (error) {
      const claim = error instanceof TransactionCanceledException ? error.CancellationReasons?.at(-1) : undefined;
      if (directPair && claim?.Code === 'ConditionalCheckFailed' && claim.Item) {
        return { existingConversationId: String(unmarshall(claim.Item).conversationId) };
      }
      throw error;
    }
  }

  /** Hands out the next seq ticket (an atomic counter: never contends, only queues). */
  async takeTicket(conversationId: string): Promise<number> {
    const result = await this.documentClient.send(
      new UpdateCommand({
        TableName: this.tableNames.conversations,
        Key: conversationKeys.meta(conversationId),
        // A ticket must follow both what has committed and what is queued.
        UpdateExpression: 'SET nextSeq = if_not_exists(nextSeq, lastSeq) + :one',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':one': 1 },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return Number(result.Attributes?.nextSeq);
  }

  /** The committed seq, read strongly: what a queued sender polls while it waits for its turn. */
  async committedSeq(conversationId: string): Promise<number | undefined> {
    const result = await this.documentClient.send(
      new GetCommand({
        TableName: this.tableNames.conversations,
        Key: conversationKeys.meta(conversationId),
        ProjectionExpression: 'lastSeq',
        ConsistentRead: true,
      }),
    );
    return result.Item ? Number(result.Item.lastSeq ?? 0) : undefined;
  }

  /** The message a sender's clientMessageId already produced, if any (checked before taking a ticket). */
  async findSent(
    conversationId: string,
    senderId: string,
    clientMessageId: string,
  ): Promise<StoredMessage | undefined> {
    const result = await this.documentClient.send(
      new GetCommand({
        TableName: this.tableNames.idempotency,
        Key: { idempotencyKey: idempotencyKey(conversationId, senderId, clientMessageId) },
        // A racing retry must see a claim made a moment ago, or it queues for a seq it will only void.
        ConsistentRead: true,
      }),
    );
    return result.Item ? this.original(result.Item) : undefined;
  }

  private idempotencyPut(message: StoredMessage) {
    return {
      TableName: this.tableNames.idempotency,
      Item: {
        idempotencyKey: idempotencyKey(message.conversationId, message.senderId, message.clientMessageId ?? ''),
        conversationId: message.conversationId,
        seq: message.seq,
        messageId: message.id,
        createdAt: message.createdAt,
      },
      ConditionExpression: 'attribute_not_exists(idempotencyKey)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    };
  }

  private async original(record: Record<string, unknown>): Promise<StoredMessage> {
    // The idempotency record and the message commit together; a strong read sees both.
    const stored = await this.get(String(record.conversationId), Number(record.seq), true);
    if (!stored) throw new Error(`idempotency record points at missing message ${String(record.messageId)}`);
    return stored;
  }
}

/** The meta item's update: advance lastSeq from `previous`, plus whatever the effects change. */
function metaUpdate(message: StoredMessage, mode: CommitMode, effects: Omit<ReturnType<typeof effectWrites>, 'items'>) {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {
    ':seq': message.seq,
    ':at': message.createdAt,
    ':previous': message.seq - 1,
  };
  const sets = mode === 'optimistic' ? ['lastSeq = :seq', 'nextSeq = :seq'] : ['lastSeq = :seq'];
  sets.push('lastMessageAt = :at');
  const conditions =
    mode === 'optimistic'
      ? ['attribute_exists(pk)', 'lastSeq = :previous', 'nextSeq = :previous']
      : ['attribute_exists(pk)', 'lastSeq = :previous'];
  const adds: string[] = [];
  const bind = (prefix: string, index: number, attribute: string, value: unknown) => {
    names[`#${prefix}${index}`] = attribute;
    values[`:${prefix}${index}`] = value;
    return [`#${prefix}${index}`, `:${prefix}${index}`] as const;
  };
  Object.entries(effects.metaSet).forEach(([attribute, value], i) => {
    const [name, placeholder] = bind('set', i, attribute, value);
    sets.push(`${name} = ${placeholder}`);
  });
  Object.entries(effects.metaAdd).forEach(([attribute, value], i) => {
    const [name, placeholder] = bind('add', i, attribute, value);
    adds.push(`${name} ${placeholder}`);
  });
  Object.entries(effects.metaAtMost).forEach(([attribute, value], i) => {
    const [name, placeholder] = bind('max', i, attribute, value);
    conditions.push(`${name} <= ${placeholder}`);
  });
  return {
    UpdateExpression: `SET ${sets.join(', ')}${adds.length > 0 ? ` ADD ${adds.join(', ')}` : ''}`,
    ConditionExpression: conditions.join(' AND '),
    ExpressionAttributeValues: values,
    ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
  };
}

export interface TimelinePageRequest {
  /** Ascending reads towards newer seqs, descending towards older ones. */
  readonly direction: 'ascending' | 'descending';
  /** The seq the previous page ended on (or the client's `after`/`before`); absent: start at the oldest or newest end. */
  readonly fromSeqExclusive?: number;
  /** The lowest seq the reader may see. */
  readonly floorSeq: number;
  readonly limit: number;
}

export interface TimelinePage {
  /** In the request's direction. */
  readonly messages: StoredMessage[];
  /** More messages lie beyond the last one in the same direction. */
  readonly hasMore: boolean;
}

/** The placeholder that fills an abandoned seq. */
export function voidMessage(conversationId: string, seq: number, createdAt: string): StoredMessage {
  return {
    id: messageIds.format(conversationId, seq),
    conversationId,
    seq,
    senderId: 'parley',
    type: 'void',
    text: '',
    createdAt,
  };
}

/** Reads a message item (from GetItem or a stream image) into the domain type. */
export function toStoredMessage(item: Record<string, unknown>): StoredMessage {
  return {
    id: String(item.id),
    conversationId: String(item.conversationId),
    seq: Number(item.seq),
    senderId: String(item.senderId),
    type: item.type as MessageType,
    text: String(item.text ?? ''),
    createdAt: String(item.createdAt),
    ...(typeof item.clientMessageId === 'string' ? { clientMessageId: item.clientMessageId } : {}),
    ...(typeof item.senderDeviceId === 'string' ? { senderDeviceId: item.senderDeviceId } : {}),
    ...(item.directDelivery === true ? { directDelivery: true } : {}),
    ...(typeof item.event === 'object' && item.event !== null ? { event: item.event as TimelineEvent } : {}),
    ...(Array.isArray(item.attachments) ? { attachments: item.attachments as MessageAttachment[] } : {}),
  };
}
