/** Fills a user's rate-limit counters so the next request meets a full window, whichever window it lands in. */
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';

export interface CounterToFill {
  readonly keyOf: (userId: string, windowStart: number) => string;
  readonly windowSeconds: number;
  readonly maxSends: number;
}

/** The window now and the `windowsAhead` after it, each at its limit. */
export async function fillRateCounters(
  documentClient: DynamoDBDocumentClient,
  tableName: string,
  userId: string,
  { keyOf, windowSeconds, maxSends }: CounterToFill,
  windowsAhead = 1,
): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  const windowStart = now - (now % windowSeconds);
  await Promise.all(
    Array.from({ length: windowsAhead + 1 }, (_, k) =>
      documentClient.send(
        new PutCommand({
          TableName: tableName,
          Item: {
            counterKey: keyOf(userId, windowStart + k * windowSeconds),
            sends: maxSends,
            expiresAt: windowStart + (k + 1) * windowSeconds,
          },
        }),
      ),
    ),
  );
}
