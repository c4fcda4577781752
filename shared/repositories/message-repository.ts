import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { conversationKeys, idempotencyKey, messageIds } from '../keys';
import type { MessageType, StoredMessage } from '../model';

export interface TableNames {
  readonly conversations: string;
  readonly messages: string;
  readonly idempotency: string;
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
  | { readonly kind: 'conversationGone' };

/** Where each action sits in the commit transaction, to read its cancellation reason. */
const META_UPDATE = 0;
const IDEMPOTENCY_PUT = 2;

export class MessageRepository {
  constructor(
    private readonly documentClient: DynamoDBDocumentClient,
    private readonly tableNames: TableNames,
  ) {}

  /**
   * Stores `message` at `message.seq` in one transaction that also advances the conversation's
   * lastSeq and (for real messages) claims the idempotency key. A seq commits only right after its
   * predecessor, so commit order is seq order (the stream carries a conversation in seq order), no
   * seq is skipped, and a retried clientMessageId can never produce a second message.
   */
  async commit(message: StoredMessage, mode: CommitMode): Promise<CommitOutcome> {
    const previous = message.seq - 1;
    const isVoid = message.type === 'void';
    if (!isVoid && message.clientMessageId === undefined) throw new Error('commit: clientMessageId is required');
    const metaUpdate =
      mode === 'optimistic'
        ? {
            UpdateExpression: 'SET lastSeq = :seq, nextSeq = :seq, lastMessageAt = :at',
            ConditionExpression: 'attribute_exists(pk) AND lastSeq = :previous AND nextSeq = :previous',
          }
        : {
            UpdateExpression: 'SET lastSeq = :seq, lastMessageAt = :at',
            ConditionExpression: 'attribute_exists(pk) AND lastSeq = :previous',
          };
    try {
      await this.documentClient.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tableNames.conversations,
                Key: conversationKeys.meta(message.conversationId),
                ...metaUpdate,
                ExpressionAttributeValues: { ':seq': message.seq, ':at': message.createdAt, ':previous': previous },
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
            ...(isVoid ? [] : [{ Put: this.idempotencyPut(message) }]),
          ],
        }),
      );
      return { kind: 'stored', message };
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      const idempotencyReason = reasons[IDEMPOTENCY_PUT];
      if (!isVoid && idempotencyReason?.Code === 'ConditionalCheckFailed' && idempotencyReason.Item) {
        return { kind: 'duplicate', message: await this.original(unmarshall(idempotencyReason.Item)) };
      }
      const metaReason = reasons[META_UPDATE];
      if (metaReason?.Code === 'ConditionalCheckFailed') {
        if (!metaReason.Item) return { kind: 'conversationGone' };
        const meta = unmarshall(metaReason.Item);
        const lastSeq = Number(meta.lastSeq ?? 0);
        return { kind: 'notNext', lastSeq, nextSeq: Math.max(lastSeq, Number(meta.nextSeq ?? 0)) };
      }
      // TransactionConflict: another commit touched the meta item mid-flight; try again.
      if (reasons.some((reason) => reason.Code === 'TransactionConflict')) {
        return { kind: 'notNext', lastSeq: previous, nextSeq: previous };
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
      }),
    );
    return result.Item ? this.original(result.Item) : undefined;
  }

  async get(conversationId: string, seq: number): Promise<StoredMessage | undefined> {
    const result = await this.documentClient.send(
      new GetCommand({ TableName: this.tableNames.messages, Key: { conversationId, seq } }),
    );
    return result.Item ? toStoredMessage(result.Item) : undefined;
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
    const stored = await this.get(String(record.conversationId), Number(record.seq));
    if (!stored) throw new Error(`idempotency record points at missing message ${String(record.messageId)}`);
    return stored;
  }
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
  };
}
