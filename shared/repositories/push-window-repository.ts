import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';

/**
 * One item per device and conversation that was pushed to lately (`push#<userId>#<deviceId>#<conversationId>`,
 * in the rate-limits table), so a burst of messages makes one push, not one each. TTL reaps it after its window.
 */
export class PushWindowRepository {
  constructor(
    private readonly documentClient: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Opens the device's push window for the conversation unless one is open: one conditional UpdateItem
   * (1 WRU, refused or not). Answers whether this caller may push. TTL deletes late, so the condition reads the time.
   */
  async claim(
    userId: string,
    deviceId: string,
    conversationId: string,
    nowEpochSeconds: number,
    windowSeconds: number,
  ): Promise<boolean> {
    try {
      await this.documentClient.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { counterKey: `push#${userId}#${deviceId}#${conversationId}` },
          UpdateExpression: 'SET #windowEndsAt = :windowEndsAt, #expiresAt = :windowEndsAt',
          ConditionExpression: 'attribute_not_exists(#windowEndsAt) OR #windowEndsAt <= :now',
          ExpressionAttributeNames: { '#windowEndsAt': 'windowEndsAt', '#expiresAt': 'expiresAt' },
          ExpressionAttributeValues: { ':windowEndsAt': nowEpochSeconds + windowSeconds, ':now': nowEpochSeconds },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
