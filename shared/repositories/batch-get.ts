import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

const MAX_KEYS_PER_BATCH = 100;
const MAX_ATTEMPTS = 8;

/** BatchGetItem in chunks of 100 keys, re-asking for unprocessed keys with jittered backoff. */
export async function batchGetAll(
  documentClient: DynamoDBDocumentClient,
  tableName: string,
  keys: readonly Record<string, unknown>[],
  consistentRead = false,
  projection?: string,
): Promise<Record<string, unknown>[]> {
  const chunks: Record<string, unknown>[][] = [];
  for (let start = 0; start < keys.length; start += MAX_KEYS_PER_BATCH) {
    chunks.push(keys.slice(start, start + MAX_KEYS_PER_BATCH));
  }
  const pages = await Promise.all(
    chunks.map(async (chunk) => {
      const items: Record<string, unknown>[] = [];
      let pending = chunk;
      for (let attempt = 1; pending.length > 0; attempt++) {
        if (attempt > MAX_ATTEMPTS) throw new Error(`BatchGetItem left ${pending.length} keys unread in ${tableName}`);
        if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, Math.random() * 25 * 2 ** attempt));
        const result = await documentClient.send(
          new BatchGetCommand({
            RequestItems: {
              [tableName]: {
                Keys: pending,
                ConsistentRead: consistentRead,
                ...(projection === undefined ? {} : { ProjectionExpression: projection }),
              },
            },
          }),
        );
        items.push(...(result.Responses?.[tableName] ?? []));
        pending = (result.UnprocessedKeys?.[tableName]?.Keys ?? []) as Record<string, unknown>[];
      }
      return items;
    }),
  );
  return pages.flat();
}
