import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { inboxKeys } from '../keys';
import type { Device, Message } from '../model';
import { batchWriteAll } from './batch-write';
import { queryAll } from './query-all';

export interface InboxPage {
  readonly messages: Message[];
  /** Opaque continuation: the last position read; absent when the inbox is exhausted. */
  readonly cursor?: string;
}

export class InboxRepository {
  constructor(
    private readonly documentClient: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly retentionSeconds: number,
  ) {}

  /**
   * Parks one message for many devices with BatchWriteItem. The key is (device, conversation+seq),
   * so parking the same message again after a retry overwrites instead of duplicating.
   */
  async park(message: Message, devices: readonly Device[], nowEpochSeconds: number): Promise<void> {
    if (devices.length === 0) return;
    const position = inboxKeys.position(message.conversationId, message.seq);
    await batchWriteAll(
      this.documentClient,
      this.tableName,
      devices.map((device) => ({
        PutRequest: {
          Item: {
            deviceKey: inboxKeys.device(device.userId, device.deviceId),
            position,
            message,
            expiresAt: nowEpochSeconds + this.retentionSeconds,
          },
        },
      })),
    );
  }

  /**
   * The device's parked messages in (conversation, seq) order. Strongly consistent: a reconnecting
   * device's sync and fan-out's re-read of its connections after parking must each see the other's
   * write (FanOutService.reachLateConnections); an eventually consistent read could miss an item
   * parked a moment before, and nothing would deliver it until the next sync.
   */
  async readPage(device: Device, limit: number, cursor?: string): Promise<InboxPage> {
    const deviceKey = inboxKeys.device(device.userId, device.deviceId);
    const result = await this.documentClient.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'deviceKey = :deviceKey',
        ExpressionAttributeValues: { ':deviceKey': deviceKey },
        ConsistentRead: true,
        ProjectionExpression: 'message',
        Limit: limit,
        ...(cursor ? { ExclusiveStartKey: { deviceKey, position: cursor } } : {}),
      }),
    );
    const messages = (result.Items ?? []).map((item) => item.message as Message);
    const last = result.LastEvaluatedKey?.position;
    return { messages, ...(typeof last === 'string' ? { cursor: last } : {}) };
  }

  /** Removes the device's items of one conversation with seq <= upToSeq; answers how many. */
  async removeUpTo(device: Device, conversationId: string, upToSeq: number): Promise<number> {
    const deviceKey = inboxKeys.device(device.userId, device.deviceId);
    const items = await queryAll(this.documentClient, {
      TableName: this.tableName,
      KeyConditionExpression: 'deviceKey = :deviceKey AND #position BETWEEN :from AND :to',
      ExpressionAttributeNames: { '#position': 'position' },
      ExpressionAttributeValues: {
        ':deviceKey': deviceKey,
        ':from': inboxKeys.position(conversationId, 0),
        ':to': inboxKeys.position(conversationId, upToSeq),
      },
      ProjectionExpression: '#position',
    });
    const positions = items.map((item) => String(item.position));
    await batchWriteAll(
      this.documentClient,
      this.tableName,
      positions.map((position) => ({ DeleteRequest: { Key: { deviceKey, position } } })),
    );
    return positions.length;
  }
}
