import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';

/** Connect tickets at rest, keyed by their hash (the ticket itself is never stored). */
export class ConnectTicketRepository {
  constructor(
    private readonly documentClient: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async put(ticketHash: string, userId: string, expiresAtEpochSeconds: number): Promise<void> {
    await this.documentClient.send(
      new PutCommand({ TableName: this.tableName, Item: { ticketHash, userId, expiresAt: expiresAtEpochSeconds } }),
    );
  }

  /**
   * Deletes the ticket and answers its user, in one conditional DeleteItem, so two callers racing
   * with one ticket cannot both get it. Undefined when unknown, already taken or expired at `nowEpochSeconds`
   * (TTL deletes late, so expiry is a condition here).
   */
  async take(ticketHash: string, nowEpochSeconds: number): Promise<string | undefined> {
    try {
      const result = await this.documentClient.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { ticketHash },
          ConditionExpression: 'expiresAt > :now',
          ExpressionAttributeValues: { ':now': nowEpochSeconds },
          ReturnValues: 'ALL_OLD',
        }),
      );
      const userId = result.Attributes?.userId;
      return typeof userId === 'string' && userId !== '' ? userId : undefined;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }
}
