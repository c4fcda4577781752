import { DeleteCommand, type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { tables } from '../config/tables';
import type { Connection } from '../model';
import { queryAll } from './query-all';

const BY_CONNECTION_ID = tables.connections.globalIndexes[0].indexName;

export class ConnectionRepository {
  constructor(
    private readonly documentClient: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async put(connection: Connection, connectedAt: string, expiresAtEpochSeconds: number): Promise<void> {
    await this.documentClient.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...connection, connectedAt, expiresAt: expiresAtEpochSeconds },
      }),
    );
  }

  async delete(userId: string, connectionId: string): Promise<void> {
    await this.documentClient.send(new DeleteCommand({ TableName: this.tableName, Key: { userId, connectionId } }));
  }

  /** Strongly consistent: a device that just connected must be seen by the next fan-out. */
  async listForUser(userId: string): Promise<Connection[]> {
    const items = await queryAll(this.documentClient, {
      TableName: this.tableName,
      KeyConditionExpression: 'userId = :userId',
      ExpressionAttributeValues: { ':userId': userId },
      ProjectionExpression: 'userId, deviceId, connectionId',
      ConsistentRead: true,
    });
    return items.map((item) => ({
      userId: String(item.userId),
      deviceId: String(item.deviceId),
      connectionId: String(item.connectionId),
    }));
  }

  /** For a `$disconnect` that arrives without the authorizer's context: the index gives the owner. */
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
    const owner = result.Items?.[0]?.userId;
    return typeof owner === 'string' ? owner : undefined;
  }
}
