import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { conversationKeys, idempotencyKey } from '../keys';
import type { MessageType, StoredMessage } from '../model';

export interface TableNames {
  readonly conversations: string;
  readonly messages: string;
  readonly idempotency: string;
}

export type AppendOutcome =
  | { readonly kind: 'stored'; readonly message: StoredMessage }
  /** The same sender already sent this clientMessageId: here is the original. */
  | { readonly kind: 'duplicate'; readonly message: StoredMessage }
  /** Someone else took `expectedLastSeq + 1` first; `lastSeq` is the conversation's seq now. */
  | { readonly kind: 'seqTaken'; readonly lastSeq: number }
  | { readonly kind: 'conversationGone' };

/** Where each action sits in the append transaction, to read its cancellation reason. */
const META_UPDATE = 0;
const IDEMPOTENCY_PUT = 2;

export class MessageRepository {
  constructor(
    private readonly documentClient: DynamoDBDocumentClient,
    private readonly tableNames: TableNames,
  ) {}

  /**
   * Stores `message` at seq `expectedLastSeq + 1` in one transaction that also advances the
   * conversation's lastSeq and claims the idempotency key. Commit order therefore equals seq order
   * (the stream carries a conversation's messages in seq order), no seq is ever skipped, and a
   * retried clientMessageId can never produce a second message.
   */
  async append(message: StoredMessage, expectedLastSeq: number): Promise<AppendOutcome> {
    if (message.seq !== expectedLastSeq + 1) throw new Error('append: seq must follow expectedLastSeq');
    if (message.clientMessageId === undefined) throw new Error('append: clientMessageId is required');
    const key = idempotencyKey(message.conversationId, message.senderId, message.clientMessageId);
    try {
      await this.documentClient.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tableNames.conversations,
                Key: conversationKeys.meta(message.conversationId),
                UpdateExpression: 'SET lastSeq = :seq, lastMessageAt = :at',
                ConditionExpression: 'attribute_exists(pk) AND lastSeq = :expected',
                ExpressionAttributeValues: { ':seq': message.seq, ':at': message.createdAt, ':expected': expectedLastSeq },
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
            {
              Put: {
                TableName: this.tableNames.idempotency,
                Item: {
                  idempotencyKey: key,
                  conversationId: message.conversationId,
                  seq: message.seq,
                  messageId: message.id,
                  createdAt: message.createdAt,
                },
                ConditionExpression: 'attribute_not_exists(idempotencyKey)',
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
          ],
        }),
      );
      return { kind: 'stored', message };
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      const idempotencyReason = reasons[IDEMPOTENCY_PUT];
      if (idempotencyReason?.Code === 'ConditionalCheckFailed' && idempotencyReason.Item) {
        const original = unmarshall(idempotencyReason.Item);
        const stored = await this.get(message.conversationId, Number(original.seq));
        if (!stored) throw new Error(`idempotency record points at missing message ${String(original.messageId)}`);
        return { kind: 'duplicate', message: stored };
      }
      const metaReason = reasons[META_UPDATE];
      if (metaReason?.Code === 'ConditionalCheckFailed') {
        if (!metaReason.Item) return { kind: 'conversationGone' };
        return { kind: 'seqTaken', lastSeq: Number(unmarshall(metaReason.Item).lastSeq ?? 0) };
      }
      // TransactionConflict: another send touched the meta item mid-flight; retry as seq taken.
      if (reasons.some((reason) => reason.Code === 'TransactionConflict')) {
        return { kind: 'seqTaken', lastSeq: expectedLastSeq };
      }
      throw error;
    }
  }

  async get(conversationId: string, seq: number): Promise<StoredMessage | undefined> {
    const result = await this.documentClient.send(
      new GetCommand({ TableName: this.tableNames.messages, Key: { conversationId, seq } }),
    );
    return result.Item ? toStoredMessage(result.Item) : undefined;
  }
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
  };
}
