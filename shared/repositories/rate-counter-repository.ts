import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';

/** Fixed-window counters, one item per key and window, reaped by TTL once the window ends. */
export class RateCounterRepository {
  constructor(
    private readonly documentClient: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Adds one to the counter in one conditional UpdateItem, only while it is below `max`.
   * Answers false (and writes nothing) when the window is already full.
   */
  async incrementBelow(counterKey: string, max: number, expiresAtEpochSeconds: number): Promise<boolean> {
    try {
      await this.documentClient.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { counterKey },
          UpdateExpression: 'SET #expiresAt = if_not_exists(#expiresAt, :windowEnd) ADD #sends :one',
          ConditionExpression: 'attribute_not_exists(#sends) OR #sends < :max',
          ExpressionAttributeNames: { '#sends': 'sends', '#expiresAt': 'expiresAt' },
          ExpressionAttributeValues: { ':one': 1, ':max': max, ':windowEnd': expiresAtEpochSeconds },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
