import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { batchGetAll } from './batch-get';
import { batchWriteAll } from './batch-write';

/** Which devices (`userId#deviceId`) took a message straight from its send, by message id. */
export class DirectDeliveryRepository {
  constructor(
    private readonly documentClient: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Written once, after the posts: a device is listed only when one of its connections took the frame. */
  async record(messageId: string, deviceKeys: readonly string[], expiresAtEpochSeconds: number): Promise<void> {
    await this.documentClient.send(
      new PutCommand({
        TableName: this.tableName,
        // An empty list is still a record: it tells fan-out the send is done, so it need not wait.
        Item: { messageId, devices: [...deviceKeys], expiresAt: expiresAtEpochSeconds },
      }),
    );
  }

  /** Records of a burst's messages, written together after their posts (BatchWriteItem, 25 a call). */
  async recordMany(
    records: readonly { readonly messageId: string; readonly deviceKeys: readonly string[] }[],
    expiresAtEpochSeconds: number,
  ): Promise<void> {
    await batchWriteAll(
      this.documentClient,
      this.tableName,
      records.map(({ messageId, deviceKeys }) => ({
        PutRequest: { Item: { messageId, devices: [...deviceKeys], expiresAt: expiresAtEpochSeconds } },
      })),
    );
  }

  /** The records of these messages, strongly read (one BatchGetItem per 100); absent ids have none yet. */
  async reached(messageIds: readonly string[]): Promise<Map<string, ReadonlySet<string>>> {
    if (messageIds.length === 0) return new Map();
    const items = await batchGetAll(
      this.documentClient,
      this.tableName,
      messageIds.map((messageId) => ({ messageId })),
      true,
    );
    return new Map(
      items.map((item) => [
        String(item.messageId),
        new Set(Array.isArray(item.devices) ? item.devices.map(String) : []),
      ]),
    );
  }
}
