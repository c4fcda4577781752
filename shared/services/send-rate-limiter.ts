import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { limits } from '../config/limits';
import { AppError } from '../errors';
import { type Clock, epochSeconds } from './clock';

export interface RateLimit {
  readonly windowSeconds: number;
  readonly maxSends: number;
}

/** The counter item of one user's sends in the window starting at `windowStart` (epoch seconds). */
export const sendCounterKey = (userId: string, windowStart: number) => `send#${userId}#${windowStart}`;

/**
 * Per-user send rate limit: a fixed-window counter item per user and window, bumped by one
 * conditional UpdateItem (ADD, only while under the limit) before a send does anything else.
 * One write per send; a refused send costs that write and nothing more.
 */
export class SendRateLimiter {
  constructor(
    private readonly documentClient: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly clock: Clock,
    private readonly limit: RateLimit = limits.sendRateLimit,
  ) {}

  /** Counts one send for the user; throws `rate_limited` (429) when the window is full. */
  async consume(userId: string): Promise<void> {
    const now = epochSeconds(this.clock.now());
    const windowStart = now - (now % this.limit.windowSeconds);
    const windowEnd = windowStart + this.limit.windowSeconds;
    try {
      await this.documentClient.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { counterKey: sendCounterKey(userId, windowStart) },
          UpdateExpression: 'SET #expiresAt = if_not_exists(#expiresAt, :windowEnd) ADD #sends :one',
          ConditionExpression: 'attribute_not_exists(#sends) OR #sends < :maxSends',
          ExpressionAttributeNames: { '#sends': 'sends', '#expiresAt': 'expiresAt' },
          ExpressionAttributeValues: { ':one': 1, ':maxSends': this.limit.maxSends, ':windowEnd': windowEnd },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      throw new AppError(
        'rate_limited',
        `At most ${this.limit.maxSends} messages per ${this.limit.windowSeconds} seconds; retry later`,
        { retryAfterSeconds: windowEnd - now },
      );
    }
  }
}
