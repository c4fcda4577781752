import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { pauseAfterConflict } from '../aws/transaction-conflicts';
import { conversationKeys, receiptKeys } from '../keys';
import type { ReceiptKind } from '../model';

export interface MarkAdvance {
  readonly kind: ReceiptKind;
  /** Where the mark stood before (0 when it had never moved). */
  readonly fromSeq: number;
  readonly toSeq: number;
  readonly at: string;
}

const markAttribute: Record<ReceiptKind, string> = { delivered: 'deliveredSeq', read: 'readSeq' };
const MAX_SEQ = Number.MAX_SAFE_INTEGER;
const MAX_CONFLICT_ATTEMPTS = 8;

/**
 * A member's delivered and read marks live on their member row and only move forward (a
 * conditional write); each advance also leaves one history item. Whatever an acknowledgement
 * covers, an advance is one transaction of two items.
 */
export class ReceiptRepository {
  constructor(
    private readonly documentClient: DynamoDBDocumentClient,
    private readonly conversationsTable: string,
    private readonly receiptsTable: string,
  ) {}

  /**
   * Moves the mark from `fromSeq` (as the caller read it) to `toSeq` if that is forward, together
   * with its history item: one transaction, so the history never misses an advance. Answers
   * undefined when it is not forward (a late or repeated acknowledgement) or the membership ended.
   */
  async advance(
    conversationId: string,
    userId: string,
    kind: ReceiptKind,
    fromSeq: number,
    toSeq: number,
    at: string,
  ): Promise<MarkAdvance | undefined> {
    if (toSeq <= fromSeq) return undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.write(conversationId, userId, kind, toSeq, at);
        return { kind, fromSeq, toSeq, at };
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        // A concurrent write to the member row (a send, another acknowledgement): try again.
        const conflict = (error.CancellationReasons ?? []).some((reason) => reason.Code === 'TransactionConflict');
        if (!conflict) return undefined;
        if (attempt >= MAX_CONFLICT_ATTEMPTS) throw error;
        // Asked again at once, the same transaction still holds the row.
        await pauseAfterConflict(attempt);
      }
    }
  }

  private async write(conversationId: string, userId: string, kind: ReceiptKind, toSeq: number, at: string) {
    await this.documentClient.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: this.conversationsTable,
              Key: conversationKeys.member(conversationId, userId),
              UpdateExpression: 'SET #mark = :to',
              ConditionExpression:
                'attribute_exists(pk) AND attribute_not_exists(leftSeq) AND (attribute_not_exists(#mark) OR #mark < :to)',
              ExpressionAttributeNames: { '#mark': markAttribute[kind] },
              ExpressionAttributeValues: { ':to': toSeq },
            },
          },
          {
            Put: {
              TableName: this.receiptsTable,
              Item: {
                memberKey: receiptKeys.member(conversationId, userId),
                mark: receiptKeys.mark(kind, toSeq),
                conversationId,
                userId,
                kind,
                toSeq,
                at,
              },
            },
          },
        ],
      }),
    );
  }

  /** When the member's mark first reached `seq`: the earliest advance to a seq at or past it. */
  async firstReached(
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
