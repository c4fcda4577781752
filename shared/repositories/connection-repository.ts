import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { tables } from '../config/tables';
import { userKeys } from '../keys';
import type { Connection, Device } from '../model';
import { batchGetAll } from './batch-get';
import { queryAll } from './query-all';

const BY_CONNECTION_ID = tables.users.globalIndexes[0].indexName;

/** What one Query of a user's partition tells fan-out: the registered devices and the live connections. */
export interface DevicesAndConnections {
  readonly devices: Device[];
  readonly connections: Connection[];
}

/** The attribute of a user's live-connections item that holds one device's connection. */
const LIVE_DEVICE_PREFIX = 'device#';

/**
 * Live WebSocket connections live in the users table, in the user's own partition beside the
 * devices (`USER#<userId>`/`CONNECTION#<connectionId>`), so one Query reads both. Each device's
 * newest connection is also kept in the user's live-connections item, so the connections of a whole
 * group's members are one BatchGetItem, not a Query per member.
 */
export class ConnectionRepository {
  constructor(
    private readonly documentClient: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async put(connection: Connection, connectedAt: string, expiresAtEpochSeconds: number): Promise<void> {
    await Promise.all([
      this.documentClient.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...userKeys.connection(connection.userId, connection.connectionId),
            userId: connection.userId,
            deviceId: connection.deviceId,
            connectionId: connection.connectionId,
            connectedAt,
            expiresAt: expiresAtEpochSeconds,
          },
        }),
      ),
      this.documentClient.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: userKeys.liveConnections(connection.userId),
          // A reconnect replaces the device's older connection, which is on its way out.
          UpdateExpression: 'SET #device = :live',
          ExpressionAttributeNames: { '#device': `${LIVE_DEVICE_PREFIX}${connection.deviceId}` },
          ExpressionAttributeValues: {
            ':live': { connectionId: connection.connectionId, connectedAt, expiresAt: expiresAtEpochSeconds },
          },
        }),
      ),
    ]);
  }

  /** Removes the connection row, and the device's live entry while it still names this connection. */
  async delete(userId: string, connectionId: string): Promise<void> {
    const removed = await this.documentClient.send(
      new DeleteCommand({
        TableName: this.tableName,
        Key: userKeys.connection(userId, connectionId),
        ReturnValues: 'ALL_OLD',
      }),
    );
    const deviceId = removed.Attributes?.deviceId;
    if (typeof deviceId !== 'string') return;
    try {
      await this.documentClient.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: userKeys.liveConnections(userId),
          UpdateExpression: 'REMOVE #device',
          ConditionExpression: '#device.connectionId = :connectionId',
          ExpressionAttributeNames: { '#device': `${LIVE_DEVICE_PREFIX}${deviceId}` },
          ExpressionAttributeValues: { ':connectionId': connectionId },
        }),
      );
    } catch (error) {
      // The device has connected again since: its entry names the newer connection and stays.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /**
   * The live connections of many users in one strongly consistent BatchGetItem per 100 (a device
   * that just connected is seen by the next send): each device's newest connection, expired ones left
   * out. Every user asked for has an entry, empty when offline.
   */
  async listLiveForUsers(userIds: readonly string[], nowEpochSeconds: number): Promise<Map<string, Connection[]>> {
    const unique = [...new Set(userIds)];
    const items = await batchGetAll(
      this.documentClient,
      this.tableName,
      unique.map((userId) => userKeys.liveConnections(userId)),
      true,
    );
    const live = new Map<string, Connection[]>(unique.map((userId) => [userId, []]));
    for (const item of items) {
      const userId = userKeys.userIdOf(String(item.pk));
      const connections = userId === undefined ? undefined : live.get(userId);
      if (userId === undefined || connections === undefined) continue;
      for (const [attribute, value] of Object.entries(item)) {
        if (!attribute.startsWith(LIVE_DEVICE_PREFIX) || typeof value !== 'object' || value === null) continue;
        const entry = value as { connectionId?: unknown; connectedAt?: unknown; expiresAt?: unknown };
        if (typeof entry.connectionId !== 'string' || Number(entry.expiresAt) <= nowEpochSeconds) continue;
        connections.push({
          userId,
          deviceId: attribute.slice(LIVE_DEVICE_PREFIX.length),
          connectionId: entry.connectionId,
          ...(typeof entry.connectedAt === 'string' ? { connectedAt: entry.connectedAt } : {}),
        });
      }
    }
    return live;
  }

  /** Strongly consistent: a device that just connected must be seen by the next post to its user. */
  async listForUser(userId: string): Promise<Connection[]> {
    const items = await queryAll(this.documentClient, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': userKeys.userPartition(userId), ':prefix': userKeys.connectionPrefix },
      ProjectionExpression: 'deviceId, connectionId, connectedAt',
      ConsistentRead: true,
    });
    return items.map((item) => toConnection(userId, item));
  }

  /**
   * A user's devices and live connections in one strongly consistent Query: the sort-key range
   * `CONNECTION#…` to `DEVICE#…` of the user's partition (the profile sorts after it). Strong, so a
   * device that just connected is seen by the next fan-out.
   */
  async listDevicesAndConnections(userId: string): Promise<DevicesAndConnections> {
    const items = await queryAll(this.documentClient, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      ExpressionAttributeValues: {
        ':pk': userKeys.userPartition(userId),
        ':from': userKeys.devicesAndConnectionsRange.from,
        ':to': userKeys.devicesAndConnectionsRange.to,
      },
      ProjectionExpression: 'sk, deviceId, connectionId, connectedAt',
      ConsistentRead: true,
    });
    const devices: Device[] = [];
    const connections: Connection[] = [];
    for (const item of items) {
      const sk = String(item.sk);
      if (sk.startsWith(userKeys.connectionPrefix)) connections.push(toConnection(userId, item));
      else if (sk.startsWith(userKeys.devicePrefix)) devices.push({ userId, deviceId: String(item.deviceId) });
    }
    return { devices, connections };
  }

  /**
   * For a `$disconnect` that arrives without the authorizer's context: the sparse index (connection
   * rows only) projects the table keys, and the partition key names the owner.
   */
  async findOwner(connectionId: string): Promise<string | undefined> {
    const result = await this.documentClient.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: BY_CONNECTION_ID,
        KeyConditionExpression: 'connectionId = :connectionId',
        ExpressionAttributeValues: { ':connectionId': connectionId },
        Limit: 1,
      }),
    );
    const pk = result.Items?.[0]?.pk;
    return typeof pk === 'string' ? userKeys.userIdOf(pk) : undefined;
  }
}

function toConnection(userId: string, item: Record<string, unknown>): Connection {
  return {
    userId,
    deviceId: String(item.deviceId),
    connectionId: String(item.connectionId),
    ...(typeof item.connectedAt === 'string' ? { connectedAt: item.connectedAt } : {}),
  };
}
