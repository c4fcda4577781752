import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

type WriteRequest =
  | { PutRequest: { Item: Record<string, unknown> } }
  | { DeleteRequest: { Key: Record<string, unknown> } };

const MAX_ITEMS_PER_BATCH = 25;
const MAX_ATTEMPTS = 8;

/**
 * BatchWriteItem in chunks of 25, re-sending unprocessed items with jittered backoff; throws if
 * DynamoDB still refuses some after the last attempt, so the caller's retry covers them.
 */
export async function batchWriteAll(
  documentClient: DynamoDBDocumentClient,
  tableName: string,
  requests: readonly WriteRequest[],
): Promise<void> {
  const chunks: WriteRequest[][] = [];
  for (let start = 0; start < requests.length; start += MAX_ITEMS_PER_BATCH) {
    chunks.push(requests.slice(start, start + MAX_ITEMS_PER_BATCH));
  }
  await Promise.all(chunks.map((chunk) => writeChunk(documentClient, tableName, chunk)));
}

async function writeChunk(documentClient: DynamoDBDocumentClient, tableName: string, chunk: WriteRequest[]) {
  let pending = chunk;
  for (let attempt = 1; pending.length > 0; attempt++) {
    if (attempt > MAX_ATTEMPTS) {
      throw new Error(`BatchWriteItem left ${pending.length} unprocessed items in ${tableName}`);
    }
    if (attempt > 1) await sleep(Math.random() * 25 * 2 ** attempt);
    const result = await documentClient.send(new BatchWriteCommand({ RequestItems: { [tableName]: pending } }));
    pending = (result.UnprocessedItems?.[tableName] ?? []) as WriteRequest[];
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
