/**
 * The `--aws-faults` DynamoDB proxy answers as AWS does where DynamoDB Local never fails: a write to an
 * item an in-flight transaction holds, throttles, 500s and batches answered in part, each surfacing
 * through the real SDK as it would on AWS.
 */
import { randomUUID } from 'node:crypto';
import {
  DynamoDBClient,
  InternalServerError,
  TransactionCanceledException,
  TransactionConflictException,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDocumentClient } from '#shared/aws/dynamodb';
import type { TableKey } from '#shared/config/tables';
import { batchGetAll } from '#shared/repositories/batch-get';
import { batchWriteAll } from '#shared/repositories/batch-write';
import { createLocalDynamoDbClient, localCredentials, localRegion } from '../../local/aws-local';
import { type DynamoDbFaultProxy, startDynamoDbFaultProxy } from '../../local/dynamodb-faults';
import { createFaultInjector, type FaultInjector } from '../../local/faults';
import { createLocalLogger } from '../../local/log';
import { createLocalTables, type LocalTables } from '../../local/tables';

let tables: LocalTables;
let proxy: DynamoDbFaultProxy;
let injector: FaultInjector;
let client: DynamoDBClient;

beforeAll(async () => {
  const setup = createLocalDynamoDbClient(inject('dynamoEndpoint'));
  tables = await createLocalTables(setup, `t-faults-${randomUUID().slice(0, 8)}-`);
  setup.destroy();
  injector = createFaultInjector({ transactionHoldMs: 400 });
  proxy = await startDynamoDbFaultProxy({
    upstream: inject('dynamoEndpoint'),
    tableNames: Object.fromEntries(Object.entries(tables).map(([key, table]) => [key, table.tableName])) as Record<
      TableKey,
      string
    >,
    injector,
    logger: createLocalLogger('SILENT'),
  });
  client = new DynamoDBClient({ endpoint: proxy.endpoint, region: localRegion, credentials: localCredentials });
});

afterAll(async () => {
  client?.destroy();
  await proxy?.stop();
});

const documentClient = () => createDocumentClient(client);
const conversations = () => tables.conversations.tableName;
const meta = (id: string) => ({ pk: `CONV#${id}`, sk: 'META' });

function transactionOn(id: string) {
  return documentClient().send(
    new TransactWriteCommand({
      TransactItems: [
        { Put: { TableName: conversations(), Item: { ...meta(id), lastSeq: 1 } } },
        { Put: { TableName: conversations(), Item: { pk: `CONV#${id}`, sk: 'MEMBER#a', role: 'admin' } } },
      ],
    }),
  );
}

describe('a write meeting an in-flight transaction', () => {
  it('is refused with TransactionConflictException, which the SDK does not retry', async () => {
    const id = randomUUID();
    const transaction = transactionOn(id);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const write = documentClient().send(
      new UpdateCommand({
        TableName: conversations(),
        Key: meta(id),
        UpdateExpression: 'SET nextSeq = :one',
        ExpressionAttributeValues: { ':one': 1 },
      }),
    );

    await expect(write).rejects.toBeInstanceOf(TransactionConflictException);
    await transaction;
    expect(injector.counts.transactionConflict).toBeGreaterThanOrEqual(1);
  });

  it('cancels another transaction on the same item with the reason TransactionConflict', async () => {
    const id = randomUUID();
    const transaction = transactionOn(id);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const error = await transactionOn(id).catch((thrown: unknown) => thrown);

    expect(error).toBeInstanceOf(TransactionCanceledException);
    expect((error as TransactionCanceledException).CancellationReasons?.map((reason) => reason.Code)).toEqual([
      'TransactionConflict',
      'TransactionConflict',
    ]);
    await transaction;
  });

  it('goes through once the transaction has answered', async () => {
    const id = randomUUID();
    await transactionOn(id);
    await expect(
      documentClient().send(new PutCommand({ TableName: conversations(), Item: { ...meta(id), lastSeq: 2 } })),
    ).resolves.toBeDefined();
  });
});

describe('throttles and 500s', () => {
  it('surface after the SDK retried them', async () => {
    Object.assign(injector.settings, { throttle: 1 });
    try {
      const error = await documentClient()
        .send(new PutCommand({ TableName: conversations(), Item: meta(randomUUID()) }))
        .then(
          () => undefined,
          (thrown: unknown) => thrown as Error & { $metadata: { attempts?: number } },
        );
      expect(['ThrottlingException', 'ProvisionedThroughputExceededException']).toContain(error?.name);
      expect(error?.$metadata.attempts).toBeGreaterThan(1);
    } finally {
      injector.settings.throttle = 0;
    }
    Object.assign(injector.settings, { dynamoDbInternalError: 1 });
    try {
      await expect(
        documentClient().send(new PutCommand({ TableName: conversations(), Item: meta(randomUUID()) })),
      ).rejects.toBeInstanceOf(InternalServerError);
    } finally {
      injector.settings.dynamoDbInternalError = 0;
    }
  });
});

describe('batches answered in part', () => {
  it('leave keys and writes unprocessed, which the batch helpers ask for again', async () => {
    const ids = Array.from({ length: 10 }, () => randomUUID());
    injector.settings.unprocessed = 1;
    try {
      const partial = await documentClient().send(
        new BatchWriteCommand({
          RequestItems: { [conversations()]: ids.map((id) => ({ PutRequest: { Item: { ...meta(id), lastSeq: 3 } } })) },
        }),
      );
      expect(partial.UnprocessedItems?.[conversations()]?.length).toBeGreaterThan(0);
      await batchWriteAll(
        documentClient(),
        conversations(),
        ids.map((id) => ({ PutRequest: { Item: { ...meta(id), lastSeq: 3 } } })),
      );
      const read = await documentClient().send(
        new BatchGetCommand({ RequestItems: { [conversations()]: { Keys: ids.map(meta) } } }),
      );
      expect(read.UnprocessedKeys?.[conversations()]?.Keys?.length).toBeGreaterThan(0);
      expect(read.Responses?.[conversations()]?.length).toBeGreaterThan(0);
      const all = await batchGetAll(documentClient(), conversations(), ids.map(meta), true);
      expect(all.map((item) => item.pk).sort()).toEqual(ids.map((id) => `CONV#${id}`).sort());
    } finally {
      injector.settings.unprocessed = 0;
    }
    expect(injector.counts.unprocessedKeys).toBeGreaterThan(0);
    expect(injector.counts.unprocessedItems).toBeGreaterThan(0);
  });
});
