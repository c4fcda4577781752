import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { pauseAfterConflict, retryingTransactionConflicts } from '../aws/transaction-conflicts';
import { conversationKeys, inboxKeys } from '../keys';
import {
  belongedAt,
  type Device,
  isSendingDevice,
  type Member,
  type Message,
  type StoredMessage,
  toWireMessage,
} from '../model';
import { batchGetAll } from './batch-get';
import { batchWriteAll } from './batch-write';
import type { ConversationRepository } from './conversation-repository';
import type { MessageReader } from './message-repository';
import { queryAll } from './query-all';

export interface InboxPage {
  readonly messages: Message[];
  /** Opaque continuation: where this page stopped; absent when the inbox is exhausted. */
  readonly cursor?: string;
}

/** What a pointer leads through: the conversation's timeline and the member's periods in it. */
export interface OwedTimeline {
  /** The conversation's entries after `afterSeq` in seq order, strongly consistent. */
  entriesAfter(
    conversationId: string,
    afterSeq: number,
    limit: number,
  ): Promise<{ readonly messages: readonly StoredMessage[]; readonly hasMore: boolean }>;
  /** The user's member row, past memberships included, strongly consistent. */
  memberRow(conversationId: string, userId: string): Promise<Member | undefined>;
}

/** A pointer's timeline, read from the tables that hold it. */
export function owedTimeline(
  messages: Pick<MessageReader, 'page'>,
  conversations: Pick<ConversationRepository, 'memberRow'>,
): OwedTimeline {
  return {
    entriesAfter: (conversationId, afterSeq, limit) =>
      messages.page(conversationId, { direction: 'ascending', fromSeqExclusive: afterSeq, floorSeq: 1, limit }),
    memberRow: (conversationId, userId) => conversations.memberRow(conversationId, userId),
  };
}

export interface InboxTables {
  readonly inbox: string;
  /** The conversations table: an ack's pointer goes only while the conversation's last seq is the ack's. */
  readonly conversations: string;
}

/** How an ack left a conversation's pointer. */
export type PointerAck = 'removed' | 'advanced' | 'none';

/**
 * A device's offline inbox. Fan-out parks a conversation for an offline device once per offline
 * period: a pointer (device, conversation, from seq) written when the device has none, which the
 * device's sync follows through the conversation's timeline. A group message then costs a strongly
 * consistent read of each offline device's pointer, not a write of a copy (and later its delete).
 * Items written as copies of one message each (before pointers) are still replayed and acked.
 */
export class InboxRepository {
  constructor(
    private readonly documentClient: DynamoDBDocumentClient,
    private readonly tables: InboxTables,
    private readonly retentionSeconds: number,
    /** Only a replaying reader (the sync) follows pointers; parking and acking never need it. */
    private readonly timeline?: OwedTimeline,
  ) {}

  /**
   * Makes each device owed the conversation from `message.seq` on, unless a pointer already says
   * it is (read strongly: a pointer an ack deleted a moment ago must not pass for one). A pointer
   * past half its retention has its expiry moved on, so a device away for long keeps it. Parking the
   * same message again after a retry finds the pointer and writes nothing. `pointed`: devices (their
   * `inboxKeys.device`) this conversation's pointer was read or written for since the message
   * committed, which need no read: an ack removes a pointer only once the conversation's last seq
   * is covered, and that seq is at least this message's. Answers the devices (`inboxKeys.device`) it
   * wrote a pointer for: only a device whose sync may have run before its pointer existed.
   */
  async park(
    message: Pick<Message, 'conversationId' | 'seq'>,
    devices: readonly Device[],
    nowEpochSeconds: number,
    pointed: ReadonlySet<string> = new Set(),
  ): Promise<ReadonlySet<string>> {
    const position = inboxKeys.pointer(message.conversationId);
    const keys = devices
      .map((device) => ({ deviceKey: inboxKeys.device(device.userId, device.deviceId), position }))
      .filter((key) => !pointed.has(key.deviceKey));
    const written = new Set<string>();
    if (keys.length === 0) return written;
    const found = await batchGetAll(this.documentClient, this.tables.inbox, keys, true, 'deviceKey, expiresAt');
    const expiresAtOf = new Map(found.map((item) => [String(item.deviceKey), Number(item.expiresAt ?? 0)]));
    const expiresAt = nowEpochSeconds + this.retentionSeconds;
    const missing = keys.filter((key) => !expiresAtOf.has(key.deviceKey));
    const fading = keys.filter(
      (key) => (expiresAtOf.get(key.deviceKey) ?? expiresAt) < expiresAt - this.retentionSeconds / 2,
    );
    await Promise.all([
      batchWriteAll(
        this.documentClient,
        this.tables.inbox,
        missing.map((key) => ({
          PutRequest: {
            Item: { ...key, conversationId: message.conversationId, fromSeq: message.seq, expiresAt },
          },
        })),
      ),
      ...fading.map(async (key) => {
        if ((await this.extend(key, message, expiresAt)) === 'written') written.add(key.deviceKey);
      }),
    ]);
    for (const key of missing) written.add(key.deviceKey);
    return written;
  }

  /**
   * Moves a fading pointer's expiry on. Gone meanwhile (an ack removed it, or TTL took an expired
   * one), it is written again from this message: a device that holds it already drops the repeat.
   */
  private async extend(
    key: { deviceKey: string; position: string },
    message: Pick<Message, 'conversationId' | 'seq'>,
    expiresAt: number,
  ): Promise<'extended' | 'written'> {
    try {
      // An ack's removal may hold the pointer for a moment: asked again once it is done.
      await retryingTransactionConflicts(() =>
        this.documentClient.send(
          new UpdateCommand({
            TableName: this.tables.inbox,
            Key: key,
            UpdateExpression: 'SET expiresAt = :expiresAt',
            ConditionExpression: 'attribute_exists(deviceKey)',
            ExpressionAttributeValues: { ':expiresAt': expiresAt },
          }),
        ),
      );
      return 'extended';
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      await this.documentClient.send(
        new PutCommand({
          TableName: this.tables.inbox,
          Item: { ...key, conversationId: message.conversationId, fromSeq: message.seq, expiresAt },
        }),
      );
      return 'written';
    }
  }

  /**
   * The device's owed messages in (conversation, seq) order: copies as parked, then each pointer
   * followed through its conversation's timeline, only the seqs the member belonged at and never the
   * device's own sends. Strongly consistent: a reconnecting device's sync and fan-out's re-read of
   * its connections after parking must each see the other's write (FanOutService.reachLateConnections).
   * A page holds up to `limit` messages; its cursor may stop inside a pointer's conversation.
   */
  async readPage(device: Device, limit: number, cursor?: string): Promise<InboxPage> {
    const messages: Message[] = [];
    let after = parseCursor(cursor);
    if (after.within) {
      const { conversationId, afterSeq } = after.within;
      const part = await this.followPointer(device, conversationId, afterSeq, limit);
      messages.push(...part.messages);
      if (part.more) return { messages, cursor: withinPointer(conversationId, part.lastRead) };
      after = { after: inboxKeys.pointer(conversationId) };
    }
    const deviceKey = inboxKeys.device(device.userId, device.deviceId);
    const result = await this.documentClient.send(
      new QueryCommand({
        TableName: this.tables.inbox,
        KeyConditionExpression: 'deviceKey = :deviceKey',
        ExpressionAttributeValues: { ':deviceKey': deviceKey },
        ConsistentRead: true,
        ProjectionExpression: '#position, message, conversationId, fromSeq',
        ExpressionAttributeNames: { '#position': 'position' },
        Limit: limit,
        ...(after.after ? { ExclusiveStartKey: { deviceKey, position: after.after } } : {}),
      }),
    );
    let lastPosition = after.after;
    for (const item of result.Items ?? []) {
      if (messages.length >= limit) return { messages, ...cursorAfter(lastPosition) };
      const position = String(item.position);
      if (typeof item.fromSeq === 'number' && typeof item.conversationId === 'string') {
        const room = limit - messages.length;
        const part = await this.followPointer(device, item.conversationId, item.fromSeq - 1, room, item.fromSeq);
        messages.push(...part.messages);
        if (part.more) return { messages, cursor: withinPointer(item.conversationId, part.lastRead) };
      } else {
        messages.push(item.message as Message);
      }
      lastPosition = position;
    }
    return result.LastEvaluatedKey ? { messages, ...cursorAfter(lastPosition) } : { messages };
  }

  /**
   * Up to `limit` entries of a pointer's conversation after `afterSeq`, those the member may read;
   * `more` while the conversation holds more that they may. `pointerFromSeq` when reading from the
   * pointer itself: a pointer that leads nowhere (its member left before it) goes.
   */
  private async followPointer(
    device: Device,
    conversationId: string,
    afterSeq: number,
    limit: number,
    pointerFromSeq?: number,
  ): Promise<{ readonly messages: Message[]; readonly more: boolean; readonly lastRead: number }> {
    const timeline = this.timeline;
    if (!timeline) throw new Error('This inbox repository has no timeline to follow pointers through');
    const member = await timeline.memberRow(conversationId, device.userId);
    const lastOwed = member ? lastSeqOwed(member) : 0;
    if (!member || afterSeq >= lastOwed) {
      if (pointerFromSeq !== undefined) await this.dropDeadPointer(device, conversationId, pointerFromSeq, member);
      return { messages: [], more: false, lastRead: afterSeq };
    }
    const page = await timeline.entriesAfter(conversationId, afterSeq, limit);
    if (pointerFromSeq !== undefined && page.messages.length === 0) {
      // Nothing at or past the pointer (an ack that met a transaction left it past the last seq): it goes
      // if nothing commits meanwhile.
      await this.removeCaughtUp(device, conversationId, pointerFromSeq, pointerFromSeq - 1);
    }
    const lastRead = page.messages.at(-1)?.seq ?? afterSeq;
    const messages = page.messages
      .filter((entry) => entry.seq <= lastOwed && belongedAt(member, entry.seq) && !isSendingDevice(entry, device))
      .map(toWireMessage);
    return { messages, more: page.hasMore && lastRead < lastOwed, lastRead };
  }

  /**
   * A pointer whose member left before it, or never was one, goes: in one transaction with a check
   * that the member row still says so, since a member added back meanwhile is owed what follows, and
   * fan-out, finding this pointer, parked nothing new.
   */
  private async dropDeadPointer(device: Device, conversationId: string, fromSeq: number, member: Member | undefined) {
    const memberCheck = member
      ? {
          ConditionExpression: 'attribute_exists(leftSeq) AND leftSeq < :fromSeq',
          ExpressionAttributeValues: { ':fromSeq': fromSeq },
        }
      : { ConditionExpression: 'attribute_not_exists(pk)' };
    try {
      await this.documentClient.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              ConditionCheck: {
                TableName: this.tables.conversations,
                Key: conversationKeys.member(conversationId, device.userId),
                ...memberCheck,
              },
            },
            {
              Delete: {
                TableName: this.tables.inbox,
                Key: this.pointerKey(device, conversationId),
                ConditionExpression: 'fromSeq = :fromSeq',
                ExpressionAttributeValues: { ':fromSeq': fromSeq },
              },
            },
          ],
        }),
      );
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
    }
  }

  /**
   * Removes the device's copies of one conversation with seq <= upToSeq, and moves its pointer past
   * `upToSeq`; the pointer goes when the conversation's last seq is `upToSeq` or less, checked in the
   * same transaction: a fan-out that found the pointer and so wrote nothing parked a seq past it.
   * Answers how many copies went and what became of the pointer.
   */
  async removeUpTo(
    device: Device,
    conversationId: string,
    upToSeq: number,
  ): Promise<{ readonly copies: number; readonly pointer: PointerAck }> {
    const deviceKey = inboxKeys.device(device.userId, device.deviceId);
    const pointerPosition = inboxKeys.pointer(conversationId);
    const items = await queryAll(this.documentClient, {
      TableName: this.tables.inbox,
      KeyConditionExpression: 'deviceKey = :deviceKey AND #position BETWEEN :from AND :to',
      ExpressionAttributeNames: { '#position': 'position' },
      ExpressionAttributeValues: {
        ':deviceKey': deviceKey,
        ':from': inboxKeys.position(conversationId, 0),
        ':to': pointerPosition,
      },
      ProjectionExpression: '#position, fromSeq',
      // Eventually consistent: a stale pointer fails the writes' conditions; one missed is replayed and acked at the next sync.
    });
    const copies = items
      .map((item) => String(item.position))
      .filter((position) => position !== pointerPosition && position <= inboxKeys.position(conversationId, upToSeq));
    const pointer = items.find((item) => item.position === pointerPosition);
    await batchWriteAll(
      this.documentClient,
      this.tables.inbox,
      copies.map((position) => ({ DeleteRequest: { Key: { deviceKey, position } } })),
    );
    const fromSeq = Number(pointer?.fromSeq ?? Number.POSITIVE_INFINITY);
    const moved = fromSeq <= upToSeq ? await this.ackPointer(device, conversationId, fromSeq, upToSeq) : 'none';
    return { copies: copies.length, pointer: moved };
  }

  private async ackPointer(
    device: Device,
    conversationId: string,
    fromSeq: number,
    upToSeq: number,
  ): Promise<PointerAck> {
    const removal = await this.removeCaughtUp(device, conversationId, fromSeq, upToSeq);
    if (removal !== 'wentOn') return removal === 'removed' ? 'removed' : 'none';
    // The conversation went on past the ack: the pointer stays, past what was acked.
    try {
      // Another ack of this device may hold the pointer in its removal: asked again once it is done.
      await retryingTransactionConflicts(() =>
        this.documentClient.send(
          new UpdateCommand({
            TableName: this.tables.inbox,
            Key: this.pointerKey(device, conversationId),
            UpdateExpression: 'SET fromSeq = :next',
            ConditionExpression: 'fromSeq = :fromSeq',
            ExpressionAttributeValues: { ':fromSeq': fromSeq, ':next': upToSeq + 1 },
          }),
        ),
      );
      return 'advanced';
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return 'none';
    }
  }

  /**
   * Removes the pointer if the conversation's last seq is `upToSeq` or less (checked in the same
   * transaction) and the pointer still starts at `fromSeq`. `wentOn`: a later seq exists (or a
   * transaction kept holding the meta item); `moved`: another ack moved or removed the pointer.
   */
  private async removeCaughtUp(
    device: Device,
    conversationId: string,
    fromSeq: number,
    upToSeq: number,
  ): Promise<'removed' | 'wentOn' | 'moved'> {
    const removal = new TransactWriteCommand({
      TransactItems: [
        {
          ConditionCheck: {
            TableName: this.tables.conversations,
            Key: conversationKeys.meta(conversationId),
            ConditionExpression: 'lastSeq <= :upToSeq',
            ExpressionAttributeValues: { ':upToSeq': upToSeq },
          },
        },
        {
          Delete: {
            TableName: this.tables.inbox,
            Key: this.pointerKey(device, conversationId),
            ConditionExpression: 'fromSeq = :fromSeq',
            ExpressionAttributeValues: { ':fromSeq': fromSeq },
          },
        },
      ],
    });
    for (let attempt = 1; ; attempt++) {
      try {
        await this.documentClient.send(removal);
        return 'removed';
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const [lastSeq, pointer] = (error.CancellationReasons ?? []).map((reason) => reason.Code);
        if (pointer === 'ConditionalCheckFailed') return 'moved';
        // A send's transaction held the meta item (or another ack the pointer): nothing was decided, ask again.
        const conflict = lastSeq === 'TransactionConflict' || pointer === 'TransactionConflict';
        if (!conflict || attempt >= MAX_CONFLICT_ATTEMPTS) return 'wentOn';
        await pauseAfterConflict(attempt);
      }
    }
  }

  private pointerKey(device: Device, conversationId: string) {
    return { deviceKey: inboxKeys.device(device.userId, device.deviceId), position: inboxKeys.pointer(conversationId) };
  }
}

/** A transaction that met another in flight is asked again this many times at most. */
const MAX_CONFLICT_ATTEMPTS = 6;

/** The last seq a member row entitles to: its removal (they learn of it), or none while a member. */
function lastSeqOwed(member: Member): number {
  return member.leftSeq ?? Number.POSITIVE_INFINITY;
}

interface CursorAt {
  /** The device partition's position to read after. */
  readonly after?: string;
  /** Inside a pointer's conversation, after this seq. */
  readonly within?: { readonly conversationId: string; readonly afterSeq: number };
}

const cursorAfter = (position: string | undefined) => (position === undefined ? {} : { cursor: `a:${position}` });
const withinPointer = (conversationId: string, afterSeq: number) => `w:${afterSeq}:${conversationId}`;

function parseCursor(cursor: string | undefined): CursorAt {
  if (cursor === undefined) return {};
  if (cursor.startsWith('w:')) {
    const [, seq, ...rest] = cursor.split(':');
    const afterSeq = Number(seq);
    const conversationId = rest.join(':');
    if (Number.isSafeInteger(afterSeq) && afterSeq >= 0 && conversationId.length > 0)
      return { within: { conversationId, afterSeq } };
    return {};
  }
  // `a:` positions, and cursors handed out before pointers (a bare position).
  return { after: cursor.startsWith('a:') ? cursor.slice(2) : cursor };
}
