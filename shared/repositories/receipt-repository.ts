import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { retryingTransactionConflicts } from '../aws/transaction-conflicts';
import { conversationKeys, receiptKeys } from '../keys';
import type { ReceiptKind } from '../model';

export interface MarkAdvance {
  readonly kind: ReceiptKind;
  /** Where the mark stood before (0 when it had never moved). */
  readonly fromSeq: number;
  readonly toSeq: number;
  readonly at: string;
}

/** One acknowledgement as its history item first recorded it: `userId` reached `toSeq` from `fromSeq`. */
export interface RecordedAcknowledgement {
  readonly conversationId: string;
  readonly userId: string;
  readonly kind: ReceiptKind;
  /** The mark as the acknowledger read it: the senders of (fromSeq, toSeq] hear of it. */
  readonly fromSeq: number;
  readonly toSeq: number;
  /** When the member first reached `toSeq`. */
  readonly at: string;
}

/** A history item as the receipts stream carries it; undefined for anything else. */
export function toRecordedAcknowledgement(item: Record<string, unknown>): RecordedAcknowledgement | undefined {
  const { conversationId, userId, kind, fromSeq, toSeq, at } = item;
  if (typeof conversationId !== 'string' || typeof userId !== 'string' || typeof at !== 'string') return undefined;
  if ((kind !== 'delivered' && kind !== 'read') || typeof toSeq !== 'number') return undefined;
  // Items written before they kept the mark they moved from announce the whole range up to theirs.
  return { conversationId, userId, kind, fromSeq: typeof fromSeq === 'number' ? fromSeq : 0, toSeq, at };
}

/** A member's marks as the caller read them (0 where one never moved). */
export interface Marks {
  readonly delivered: number;
  readonly read: number;
}

const markAttribute: Record<ReceiptKind, string> = { delivered: 'deliveredSeq', read: 'readSeq' };
const MAX_SEQ = Number.MAX_SAFE_INTEGER;
/** Each retry follows a concurrent advance of the same member, and each moves a mark forward: few are ever needed. */
const MAX_STALE_READS = 4;

/**
 * A member's delivered and read marks live on their member row and only move forward (a
 * conditional write); each acknowledgement also leaves one history item, written first, so the
 * history never misses an acknowledgement whose mark moved. Two single-item writes, not a
 * transaction: a transaction bills each item twice, and a lost race (a user's second device
 * acknowledging what the first just did) bills a cancelled transaction instead of one failed
 * conditional write.
 */
export class ReceiptRepository {
  constructor(
    private readonly documentClient: DynamoDBDocumentClient,
    private readonly conversationsTable: string,
    private readonly receiptsTable: string,
  ) {}

  /**
   * Moves the `kind` mark (and, for a read, the delivered mark: reading implies delivery) to
   * `toSeq` where that is forward of `marks`, in one conditional write. Answers the advances made:
   * none for a late or repeated acknowledgement, or when the membership ended.
   */
  async acknowledge(
    conversationId: string,
    userId: string,
    kind: ReceiptKind,
    marks: Marks,
    toSeq: number,
    at: string,
  ): Promise<MarkAdvance[]> {
    let known = marks;
    for (let attempt = 1; ; attempt++) {
      const moving = marksToMove(kind, known, toSeq);
      const recorded = moving[0];
      if (recorded === undefined) return [];
      const firstAt = await this.record(conversationId, userId, recorded, known[recorded], toSeq, at);
      const current = await this.move(conversationId, userId, moving, toSeq);
      if (current === 'moved') return moving.map((each) => ({ kind: each, fromSeq: known[each], toSeq, at: firstAt }));
      // The membership ended, or another acknowledgement moved a mark since the caller read it.
      if (current === 'not-a-member' || attempt >= MAX_STALE_READS) return [];
      known = current;
    }
  }

  /**
   * The history item of one acknowledgement, keyed by kind and seq; a repeat keeps the first time
   * and changes nothing. A read's item stands for the delivery too (see {@link firstReached}). Its
   * first write is what the receipts stream announces to the senders of (fromSeq, toSeq], fromSeq
   * being the mark as the acknowledger read it. Answers the time it keeps.
   */
  private async record(
    conversationId: string,
    userId: string,
    kind: ReceiptKind,
    fromSeq: number,
    toSeq: number,
    at: string,
  ): Promise<string> {
    const result = await this.documentClient.send(
      new UpdateCommand({
        TableName: this.receiptsTable,
        Key: { memberKey: receiptKeys.member(conversationId, userId), mark: receiptKeys.mark(kind, toSeq) },
        UpdateExpression:
          'SET conversationId = :c, userId = :u, kind = :k, toSeq = :to, #at = if_not_exists(#at, :at), fromSeq = if_not_exists(fromSeq, :from)',
        ExpressionAttributeNames: { '#at': 'at' },
        ExpressionAttributeValues: {
          ':c': conversationId,
          ':u': userId,
          ':k': kind,
          ':to': toSeq,
          ':at': at,
          ':from': fromSeq,
        },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    const kept = result.Attributes?.at;
    return typeof kept === 'string' ? kept : at;
  }

  /** One conditional UpdateItem of the member row; on a lost race, the marks it found (free with the failure). */
  private async move(
    conversationId: string,
    userId: string,
    moving: readonly ReceiptKind[],
    toSeq: number,
  ): Promise<'moved' | 'not-a-member' | Marks> {
    const names = Object.fromEntries(moving.map((each, i) => [`#m${i}`, markAttribute[each]]));
    const placeholders = Object.keys(names);
    try {
      // A send's transaction may hold the row (the member's own lastSentSeq): asked again once it is done.
      await retryingTransactionConflicts(() =>
        this.documentClient.send(
          new UpdateCommand({
            TableName: this.conversationsTable,
            Key: conversationKeys.member(conversationId, userId),
            UpdateExpression: `SET ${placeholders.map((name) => `${name} = :to`).join(', ')}`,
            ConditionExpression: [
              'attribute_exists(pk) AND attribute_not_exists(leftSeq)',
              ...placeholders.map((name) => `(attribute_not_exists(${name}) OR ${name} < :to)`),
            ].join(' AND '),
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: { ':to': toSeq },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        ),
      );
      return 'moved';
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const row = error.Item;
      if (!row || row.leftSeq !== undefined) return 'not-a-member';
      return { delivered: Number(row.deliveredSeq?.N ?? 0), read: Number(row.readSeq?.N ?? 0) };
    }
  }

  /**
   * When the member's mark first reached `seq`: the earliest acknowledgement of a seq at or past it.
   * A delivery is also reached by a read (a read's one item stands for both).
   */
  async firstReached(
    conversationId: string,
    userId: string,
    kind: ReceiptKind,
    seq: number,
  ): Promise<string | undefined> {
    const { deliveredAt, readAt } = await this.firstReachedBoth(conversationId, userId, seq);
    return kind === 'read' ? readAt : deliveredAt;
  }

  /** Both times at once, in two Queries: what a receipt listing needs per member. */
  async firstReachedBoth(
    conversationId: string,
    userId: string,
    seq: number,
  ): Promise<{ deliveredAt?: string; readAt?: string }> {
    const [delivered, read] = await Promise.all([
      this.firstRecorded(conversationId, userId, 'delivered', seq),
      this.firstRecorded(conversationId, userId, 'read', seq),
    ]);
    const deliveredAt = earliest(delivered, read);
    return { ...(deliveredAt ? { deliveredAt } : {}), ...(read ? { readAt: read } : {}) };
  }

  /**
   * The time on the item with the lowest seq at or past `seq`. Acknowledgements of one kind come in
   * seq order, but not strictly: two devices racing can leave a lower seq a few ms later than a
   * higher one, so this may be late by that race.
   */
  private async firstRecorded(
    conversationId: string,
    userId: string,
    kind: ReceiptKind,
    seq: number,
  ): Promise<string | undefined> {
    const result = await this.documentClient.send(
      new QueryCommand({
        TableName: this.receiptsTable,
        KeyConditionExpression: 'memberKey = :member AND #mark BETWEEN :from AND :to',
        ExpressionAttributeNames: { '#mark': 'mark' },
        ExpressionAttributeValues: {
          ':member': receiptKeys.member(conversationId, userId),
          ':from': receiptKeys.mark(kind, seq),
          ':to': receiptKeys.mark(kind, MAX_SEQ),
        },
        Limit: 1,
      }),
    );
    const at = result.Items?.[0]?.at;
    return typeof at === 'string' ? at : undefined;
  }
}

/** The marks an acknowledgement moves, the one it is named for first: a read moves the delivery too. */
function marksToMove(kind: ReceiptKind, marks: Marks, toSeq: number): ReceiptKind[] {
  const kinds: ReceiptKind[] = kind === 'read' ? ['read', 'delivered'] : ['delivered'];
  return kinds.filter((each) => marks[each] < toSeq);
}

/** ISO-8601 times of one format compare as strings. */
function earliest(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a < b ? a : b;
}
