import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { TransactItem } from './transact-item';

/** Sends claimed from one user's window counter, within its limit. */
export interface CounterClaim {
  readonly counterKey: string;
  readonly count: number;
  readonly max: number;
  readonly expiresAtEpochSeconds: number;
}

/** The conditional increment of {@link RateCounterRepository.incrementWithin}, as a transaction's item. */
export function counterClaimWrite(tableName: string, claim: CounterClaim): TransactItem {
  return { Update: { TableName: tableName, Key: { counterKey: claim.counterKey }, ...incrementWithin(claim) } };
}

function incrementWithin({ count, max, expiresAtEpochSeconds }: CounterClaim) {
  return {
    UpdateExpression: 'SET #expiresAt = if_not_exists(#expiresAt, :windowEnd) ADD #sends :count',
    ConditionExpression: 'attribute_not_exists(#sends) OR #sends <= :ceiling',
    ExpressionAttributeNames: { '#sends': 'sends', '#expiresAt': 'expiresAt' },
    ExpressionAttributeValues: { ':count': count, ':ceiling': max - count, ':windowEnd': expiresAtEpochSeconds },
  };
}

/** Fixed-window counters, one item per key and window, reaped by TTL once the window ends. */
export class RateCounterRepository {
  constructor(
    private readonly documentClient: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Adds `count` to the counter in one conditional UpdateItem, only while the sum stays within `max`.
   * Answers false (and writes nothing) when it would not.
   */
  async incrementWithin(
    counterKey: string,
    count: number,
    max: number,
    expiresAtEpochSeconds: number,
  ): Promise<boolean> {
    try {
      await this.documentClient.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { counterKey },
          ...incrementWithin({ counterKey, count, max, expiresAtEpochSeconds }),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * Claims a sliding window of `windowMs` from `nowMs` with one conditional PutItem, only if no claim of
   * the key is still running; answers false (a failed condition, nothing changed) when one is.
   */
  async claimWindow(counterKey: string, nowMs: number, windowMs: number): Promise<boolean> {
    try {
      await this.documentClient.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { counterKey, until: nowMs + windowMs, expiresAt: Math.ceil((nowMs + windowMs) / 1000) + 1 },
          ConditionExpression: 'attribute_not_exists(counterKey) OR #until <= :now',
          ExpressionAttributeNames: { '#until': 'until' },
          ExpressionAttributeValues: { ':now': nowMs },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
