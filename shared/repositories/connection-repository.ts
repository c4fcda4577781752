import { DeleteCommand, type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { tables } from '../config/tables';
import { userKeys } from '../keys';
import type { Connection, Device } from '../model';
import { queryAll } from './query-all';

const BY_CONNECTION_ID = tables.users.globalIndexes[0].indexName;

/** What one Query of a user's partition tells fan-out: the registered devices and the live connections. */
export interface DevicesAndConnections {
  readonly devices: Device[];
  readonly connections: Connection[];
}

/**
 * Live WebSocket connections live in the users table, in the user's own partition beside the
 * devices (`USER#<userId>`/`CONNECTION#<connectionId>`), so one Query reads both.
 */
export class ConnectionRepository {
  constructor(
    private readonly documentClient: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async put(connection: Connection, connectedAt: string, expiresAtEpochSeconds: number): Promise<void> {
    await this.documentClient.send(
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
    );
  }

  async delete(userId: string, connectionId: string): Promise<void> {
    await this.documentClient.send(
      new DeleteCommand({ TableName: this.tableName, Key: userKeys.connection(userId, connectionId) }),
    );
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
