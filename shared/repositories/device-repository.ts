import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { userKeys } from '../keys';
import type { Device } from '../model';
import { batchWriteAll } from './batch-write';
import { queryAll } from './query-all';

/** Devices live in the users table, in the user's own partition. */
export class DeviceRepository {
  constructor(
    private readonly documentClient: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Idempotent: a reconnect sets a fresh lastConnectedAt and keeps the rest (its push subscription). */
  async register(device: Device, registeredAt: string): Promise<void> {
    await this.documentClient.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: userKeys.device(device.userId, device.deviceId),
        UpdateExpression: 'SET userId = :userId, deviceId = :deviceId, lastConnectedAt = :lastConnectedAt',
        ExpressionAttributeValues: {
          ':userId': device.userId,
          ':deviceId': device.deviceId,
          ':lastConnectedAt': registeredAt,
        },
      }),
    );
  }

  async listForUser(userId: string): Promise<Device[]> {
    const items = await queryAll(this.documentClient, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': userKeys.userPartition(userId), ':prefix': userKeys.devicePrefix },
      ProjectionExpression: 'userId, deviceId',
      // A device registered a moment ago (a connect copying the rows into the reach item) must be seen.
      ConsistentRead: true,
    });
    return items.map((item) => ({ userId: String(item.userId), deviceId: String(item.deviceId) }));
  }

  /** Forgets devices (account deletion); their inbox items expire by TTL. */
  async remove(devices: readonly Device[]): Promise<void> {
    await batchWriteAll(
      this.documentClient,
      this.tableName,
      devices.map((device) => ({ DeleteRequest: { Key: userKeys.device(device.userId, device.deviceId) } })),
    );
  }
}
