import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { userKeys } from '../keys';
import type { Device } from '../model';

/** Devices live in the users table, in the user's own partition. */
export class DeviceRepository {
  constructor(
    private readonly documentClient: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Idempotent: a reconnect overwrites the row with a fresh lastConnectedAt. */
  async register(device: Device, registeredAt: string): Promise<void> {
    await this.documentClient.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...userKeys.device(device.userId, device.deviceId),
          userId: device.userId,
          deviceId: device.deviceId,
          lastConnectedAt: registeredAt,
        },
      }),
    );
  }

  async listForUser(userId: string): Promise<Device[]> {
    const devices: Device[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.documentClient.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': userKeys.userPartition(userId), ':prefix': userKeys.devicePrefix },
          ProjectionExpression: 'userId, deviceId',
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? [])
        devices.push({ userId: String(item.userId), deviceId: String(item.deviceId) });
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return devices;
  }
}
