import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { retryingTransactionConflicts } from '../aws/transaction-conflicts';
import { conversationKeys, idempotencyKey, messageIds } from '../keys';
import {
  type ChangeType,
  type Conversation,
  changeTypes,
  type Member,
  type MessageAttachment,
  type MessageType,
  type Reaction,
  type ReplyRef,
  type StoredMessage,
  type TimelineEvent,
} from '../model';
import { batchGetAll } from './batch-get';
import { conversationWrites } from './conversation-repository';
import { reactionAttributePrefix } from './message-changes';
import { queryAll } from './query-all';
import type { TimelineEffects } from './timeline-effects';
import {
  MAX_TRANSACTION_ACTIONS,
  planRun,
  type Refusal,
  type RunCancellation,
  type RunEntry,
  type RunLease,
  type RunPlan,
  readCancellation,
  type SeqGuard,
  type TableNames,
} from './timeline-run';
import type { TransactItem } from './transact-item';

export type { TimelineEffects } from './timeline-effects';
export type { Refusal, RunEntry, RunLease, TableNames } from './timeline-run';

export type CommitOutcome =
  | { readonly kind: 'stored'; readonly message: StoredMessage }
  /** The same sender already sent this clientMessageId: here is the original. */
  | { readonly kind: 'duplicate'; readonly message: StoredMessage }
  /** The seq is not this message's to take yet (or any more): `lastSeq` is the committed seq now. */
  | { readonly kind: 'notNext'; readonly lastSeq: number; readonly nextSeq: number }
  | { readonly kind: 'conversationGone' }
  /** A bound in `metaAtMost` or a condition of an extra item failed; nothing was written. */
  | { readonly kind: 'effectRejected' };

/** What one optimistic transaction of a burst did (see `commitMany`). */
export type ManyOutcome =
  /** The first `count` entries were committed. */
  | { readonly kind: 'stored'; readonly count: number }
  /** These entries (by index) were refused by their own conditions; nothing was written. */
  | { readonly kind: 'refused'; readonly refused: ReadonlyMap<number, Refusal> }
  | { readonly kind: 'notNext'; readonly lastSeq: number }
  | { readonly kind: 'conversationGone' };

export type RunOutcome =
  /** Seqs up to `through` committed; those in `refused` hold voids (their entries' conditions failed). */
  | {
      readonly kind: 'stored';
      readonly through: number;
      readonly refused: ReadonlyMap<number, Refusal>;
      /** Tickets wait beyond the run, and it took the lease to commit the next run too. */
      readonly leased: boolean;
    }
  /** The seq after `previous` was not the run's: `lastSeq` is the committed seq now. */
  | { readonly kind: 'notNext'; readonly lastSeq: number }
  | { readonly kind: 'conversationGone' };

/**
 * A parked item as its sender finds it:
 * - `gone`: a run committed the entry (only a commit takes a parked item away before its sender reads it);
 * - a {@link Refusal}: a run filled its seq with a void instead, for this reason;
 * - `parked`: still there: waiting, or (once lastSeq has passed its seq) its seq was filled as
 *   abandoned before it was parked.
 */
export type ParkedState = 'gone' | Refusal | 'parked';

/** The queue as the writer committing the next run reads it. */
export interface QueueRead {
  readonly lastSeq: number;
  /** The last seq handed out as a ticket. */
  readonly nextSeq: number;
  /** Entries parked at the seqs from the one asked for, by seq. */
  readonly parked: ReadonlyMap<number, RunEntry>;
}

/** The queue as a parked sender sees it. */
export interface QueueView {
  readonly lastSeq: number;
  /** Until when (epoch ms) a writer has said it goes on committing runs of parked entries. */
  readonly runLeaseUntil: number;
  readonly parked: ParkedState;
}

/** Parked entries one run may take: more than 100 actions hold, so the plan, not the read, sets the cap. */
const MAX_PARKED_READ = 50;

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

  /**
   * The sender of each text message in seqs (fromExclusive, toInclusive], by seq: the senders the
   * receipts of that range concern. One Query, eventually consistent (the range was acknowledged, so
   * it was committed well before).
   */
  async textSendersBySeq(
    conversationId: string,
    fromExclusive: number,
    toInclusive: number,
  ): Promise<Map<number, string>> {
    if (toInclusive <= fromExclusive) return new Map();
    const items = await queryAll(this.documentClient, {
      TableName: this.messagesTable,
      KeyConditionExpression: 'conversationId = :conversationId AND seq BETWEEN :from AND :to',
      ExpressionAttributeNames: { '#type': 'type' },
      ExpressionAttributeValues: { ':conversationId': conversationId, ':from': fromExclusive + 1, ':to': toInclusive },
      ProjectionExpression: 'seq, senderId, #type',
    });
    return new Map(
      items.filter((item) => item.type === 'text').map((item) => [Number(item.seq), String(item.senderId)] as const),
    );
  }

  /**
   * How many changes (edits, deletes, reactions) lie in seqs (fromExclusive, toInclusive]: one Query
   * of that range that returns only the count. What an unread count leaves out.
   */
  async countChanges(conversationId: string, fromExclusive: number, toInclusive: number): Promise<number> {
    if (toInclusive <= fromExclusive) return 0;
    let count = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const result = await this.documentClient.send(
        new QueryCommand({
          TableName: this.messagesTable,
          KeyConditionExpression: 'conversationId = :conversationId AND seq BETWEEN :from AND :to',
          FilterExpression: '#type IN (:edit, :delete, :reaction)',
          ExpressionAttributeNames: { '#type': 'type' },
          ExpressionAttributeValues: {
            ':conversationId': conversationId,
            ':from': fromExclusive + 1,
            ':to': toInclusive,
            ...Object.fromEntries(changeTypes.map((type: ChangeType) => [`:${type}`, type])),
          },
          Select: 'COUNT',
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      count += result.Count ?? 0;
      startKey = result.LastEvaluatedKey;
    } while (startKey);
    return count;
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
   * lastSeq and (for real messages) claims the idempotency key: the uncontended path, which takes
   * the seq only if nobody committed or queued for one meanwhile. A seq commits only right after its
   * predecessor, so commit order is seq order (the stream carries a conversation in seq order), no
   * seq is skipped, and a retried clientMessageId can never produce a second message.
   */
  async commit(message: StoredMessage, effects: TimelineEffects = {}): Promise<CommitOutcome> {
    const previous = message.seq - 1;
    const offered = [{ message, effects }];
    const cancellation = await this.transact(previous, offered, { kind: 'optimistic' });
    switch (cancellation.kind) {
      case 'committed':
        return { kind: 'stored', message };
      case 'conversationGone':
        return cancellation;
      case 'notNext':
        return { kind: 'notNext', lastSeq: cancellation.lastSeq, nextSeq: cancellation.nextSeq };
      case 'conflict':
        // Another commit touched the meta item mid-flight; try again.
        return { kind: 'notNext', lastSeq: previous, nextSeq: previous };
      case 'refused':
        return cancellation.refused.get(0) === 'duplicate' && cancellation.original
          ? { kind: 'duplicate', message: await this.original(cancellation.original) }
          : { kind: 'effectRejected' };
    }
  }

  /**
   * Commits entries at the seqs after `previous` optimistically (the meta item must still say
   * `previous`, with nothing queued), as many as one transaction holds: answers how many went in, or
   * which entries' own conditions refused them (nothing was written then), or that the seq moved.
   */
  async commitMany(previous: number, entries: readonly RunEntry[]): Promise<ManyOutcome> {
    const cancellation = await this.transact(previous, entries, { kind: 'optimistic' });
    switch (cancellation.kind) {
      case 'committed':
        return { kind: 'stored', count: cancellation.count };
      case 'conversationGone':
        return cancellation;
      case 'notNext':
        return { kind: 'notNext', lastSeq: cancellation.lastSeq };
      case 'conflict':
        return { kind: 'notNext', lastSeq: previous };
      case 'refused':
        return { kind: 'refused', refused: cancellation.refused };
    }
  }

  /**
   * Commits queued entries at the seqs after `previous`, as many as one transaction holds (see
   * {@link planRun}): one meta update for all of them. An entry whose own conditions fail (the
   * sender removed, an attachment gone, the clientMessageId already sent, the group full) does not
   * stop the others: its seq is filled with a void, its parked item records why, and the run is
   * tried again.
   */
  async commitRun(
    conversationId: string,
    previous: number,
    entries: readonly RunEntry[],
    lease?: RunLease,
  ): Promise<RunOutcome> {
    const offered = [...entries];
    const refused = new Map<number, Refusal>();
    for (;;) {
      const outcome = await this.transact(previous, offered, { kind: 'queued', ...lease });
      switch (outcome.kind) {
        case 'committed':
          return { kind: 'stored', through: previous + outcome.count, refused, leased: outcome.leased };
        case 'conversationGone':
          return outcome;
        case 'notNext':
          return { kind: 'notNext', lastSeq: outcome.lastSeq };
        case 'conflict':
          return { kind: 'notNext', lastSeq: previous };
        case 'refused':
          for (const [index, refusal] of outcome.refused) {
            const entry = offered[index];
            if (!entry) continue;
            const { seq, createdAt } = entry.message;
            refused.set(seq, refusal);
            offered[index] = {
              message: voidMessage(conversationId, seq, createdAt),
              ...(entry.parked ? { parked: true, refusal } : {}),
            };
          }
          break;
      }
    }
  }

  /** Plans and sends one commit transaction; a cancellation is read back as what it means. */
  private async transact(
    previous: number,
    offered: readonly RunEntry[],
    guard: SeqGuard,
  ): Promise<{ readonly kind: 'committed'; readonly count: number; readonly leased: boolean } | RunCancellation> {
    const plan: RunPlan = planRun(this.tableNames, previous, offered, {
      ...guard,
      ...(guard.kind === 'queued' ? { committedAt: Date.now() } : {}),
    });
    try {
      await this.documentClient.send(new TransactWriteCommand({ TransactItems: [...plan.items] }));
      return { kind: 'committed', count: plan.count, leased: plan.leased };
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const cancellation = readCancellation(plan, offered, error.CancellationReasons ?? [], previous, guard.kind);
      if (!cancellation) throw error;
      return cancellation;
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
      conversationWrites.meta(table, conversation, directPair),
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

  /**
   * Hands out the next seq ticket (an atomic counter: never contends, only queues), with the seq
   * committed at that moment: a ticket right after it is next in line at once.
   */
  async takeTicket(conversationId: string): Promise<{ readonly ticket: number; readonly lastSeq: number }> {
    // The meta item is in every commit transaction: meeting one is the common case under load.
    const result = await retryingTransactionConflicts(() =>
      this.documentClient.send(
        new UpdateCommand({
          TableName: this.tableNames.conversations,
          Key: conversationKeys.meta(conversationId),
          // A ticket must follow both what has committed and what is queued.
          UpdateExpression: 'SET nextSeq = if_not_exists(nextSeq, lastSeq) + :one',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':one': 1 },
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    return { ticket: Number(result.Attributes?.nextSeq), lastSeq: Number(result.Attributes?.lastSeq ?? 0) };
  }

  /**
   * Parks a queued entry (at its ticket's seq) in the conversation's partition, where whoever
   * commits the seqs before it finds it and commits it in the same transaction as theirs.
   */
  async park(message: StoredMessage, effects: TimelineEffects): Promise<void> {
    await retryingTransactionConflicts(() =>
      this.documentClient.send(
        new PutCommand({
          TableName: this.tableNames.conversations,
          Item: { ...conversationKeys.parked(message.conversationId, message.seq), message: { ...message }, effects },
        }),
      ),
    );
  }

  /**
   * The queue from `fromSeq` on, in one strongly consistent Query of the conversation's partition
   * from its meta item (which sorts right before the parked entries): the committed seq, the last
   * seq handed out, and the entries parked at seqs from `fromSeq`. Undefined when the conversation is gone.
   */
  async queueFrom(conversationId: string, fromSeq: number): Promise<QueueRead | undefined> {
    const result = await this.documentClient.send(
      new QueryCommand({
        TableName: this.tableNames.conversations,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :meta AND :to',
        ExpressionAttributeValues: {
          ':pk': conversationKeys.partition(conversationId),
          ':meta': conversationKeys.meta(conversationId).sk,
          ':to': conversationKeys.parked(conversationId, fromSeq + MAX_PARKED_READ - 1).sk,
        },
        ConsistentRead: true,
      }),
    );
    const items = result.Items ?? [];
    const meta = items.find((item) => item.sk === conversationKeys.meta(conversationId).sk);
    if (!meta) return undefined;
    const parked = new Map<number, RunEntry>();
    for (const item of items) {
      const message = item.message as StoredMessage | undefined;
      // Parked items below fromSeq wait for their senders to read what became of them.
      if (!message || message.seq < fromSeq || item.outcome !== undefined) continue;
      parked.set(message.seq, { message, effects: item.effects as TimelineEffects, parked: true });
    }
    const lastSeq = Number(meta.lastSeq ?? 0);
    return { lastSeq, nextSeq: Math.max(lastSeq, Number(meta.nextSeq ?? 0)), parked };
  }

  /**
   * The queue as a parked sender sees it, in one strongly consistent BatchGetItem: the committed
   * seq, whether a writer has said it goes on committing runs, and the sender's own parked item.
   * Undefined when the conversation is gone.
   */
  async queueView(conversationId: string, parkedSeq: number): Promise<QueueView | undefined> {
    const table = this.tableNames.conversations;
    const metaKey = conversationKeys.meta(conversationId);
    const parkedKey = conversationKeys.parked(conversationId, parkedSeq);
    // Under throttling DynamoDB answers part of a batch (UnprocessedKeys): batchGetAll asks again for the rest.
    const items = await batchGetAll(
      this.documentClient,
      table,
      [metaKey, parkedKey],
      true,
      'sk, lastSeq, runLeaseUntil, outcome',
    );
    const meta = items.find((item) => item.sk === metaKey.sk);
    const parked = items.find((item) => item.sk === parkedKey.sk);
    if (!meta) return undefined;
    return {
      lastSeq: Number(meta.lastSeq ?? 0),
      runLeaseUntil: Number(meta.runLeaseUntil ?? 0),
      parked: parked ? parkedState(parked) : 'gone',
    };
  }

  /** The parked item at `seq` alone, read strongly. */
  async parkedState(conversationId: string, seq: number): Promise<ParkedState> {
    const result = await this.documentClient.send(
      new GetCommand({
        TableName: this.tableNames.conversations,
        Key: conversationKeys.parked(conversationId, seq),
        ProjectionExpression: 'outcome',
        ConsistentRead: true,
      }),
    );
    return result.Item ? parkedState(result.Item) : 'gone';
  }

  /** Removes a parked item its sender has read the outcome of. */
  async unpark(conversationId: string, seq: number): Promise<void> {
    // A run's transaction may hold the parked item (committing or voiding it) at this moment.
    await retryingTransactionConflicts(() =>
      this.documentClient.send(
        new DeleteCommand({
          TableName: this.tableNames.conversations,
          Key: conversationKeys.parked(conversationId, seq),
        }),
      ),
    );
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

  private async original(record: Record<string, unknown>): Promise<StoredMessage> {
    // The idempotency record and the message commit together; a strong read sees both.
    const stored = await this.get(String(record.conversationId), Number(record.seq), true);
    if (!stored) throw new Error(`idempotency record points at missing message ${String(record.messageId)}`);
    return stored;
  }
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

function parkedState(item: Record<string, unknown>): ParkedState {
  return item.outcome === 'rejected' || item.outcome === 'duplicate' ? item.outcome : 'parked';
}

/** Reads a message item (from GetItem or a stream image) into the domain type. */
export function toStoredMessage(item: Record<string, unknown>): StoredMessage {
  const deleted = typeof item.deletedAt === 'string';
  const reactions = reactionsOf(item);
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
    ...(Array.isArray(item.attachments) && !deleted ? { attachments: item.attachments as MessageAttachment[] } : {}),
    ...(typeof item.replyTo === 'object' && item.replyTo !== null && !deleted
      ? { replyTo: item.replyTo as ReplyRef }
      : {}),
    ...(typeof item.targetSeq === 'number' ? { targetSeq: item.targetSeq } : {}),
    ...(typeof item.emoji === 'string' ? { emoji: item.emoji } : {}),
    ...(item.removed === true ? { removed: true } : {}),
    ...(typeof item.editedAt === 'string' ? { editedAt: item.editedAt } : {}),
    ...(deleted ? { deletedAt: String(item.deletedAt), deletedBy: String(item.deletedBy) } : {}),
    ...(reactions.length > 0 && !deleted ? { reactions } : {}),
    ...(item.changedSeq !== undefined ? { changedSeq: Number(item.changedSeq) } : {}),
  };
}

/** A message's reactions from its `react#<emoji>` sets: most reacted first, then by emoji; users in id order. */
function reactionsOf(item: Record<string, unknown>): Reaction[] {
  const reactions: Reaction[] = [];
  for (const [attribute, value] of Object.entries(item)) {
    if (!attribute.startsWith(reactionAttributePrefix) || !(value instanceof Set) || value.size === 0) continue;
    const userIds = [...value].map(String).sort();
    reactions.push({ emoji: attribute.slice(reactionAttributePrefix.length), count: userIds.length, userIds });
  }
  return reactions.sort((a, b) => b.count - a.count || (a.emoji < b.emoji ? -1 : a.emoji > b.emoji ? 1 : 0));
}
