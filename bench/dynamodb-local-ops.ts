/**
 * What one DynamoDB call costs in CPU on this machine, by kind: DynamoDB Local's (the JVM) and the
 * calling process's (the SDK, as the handlers' document client makes it). The hot conversation's rate
 * is these costs times its calls a message, against the machine's cores (docs/performance.md).
 */
import { CreateTableCommand, DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { createLocalDynamoDbClient } from '../local/aws-local';
import { createDocumentClient } from '../shared/aws/dynamodb';
import { round } from './capacity-tally';
import { processCpuMs } from './machine';

export interface OperationCost {
  readonly operation: string;
  readonly dynamoDbLocalCpuMs: number | null;
  readonly callerCpuMs: number;
  readonly callsPerSecond: number;
}

const tableName = 'bench-operation-costs';
/** Calls in flight, as the hot conversation's 16 senders keep a few of each kind. */
const concurrency = 8;
/** The message items' size in the workloads (a 100-character text and its attributes). */
const itemText = 'x'.repeat(300);

/** Each kind `calls` times after `warmUpCalls` unmeasured ones, on a table of its own (dropped after). */
export async function measureOperationCosts(
  endpoint: string,
  dynamoPid: number | undefined,
  calls = 1000,
  warmUpCalls = 1500,
): Promise<OperationCost[]> {
  const admin = createLocalDynamoDbClient(endpoint);
  await admin.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    }),
  );
  const documents = createDocumentClient(admin);
  let n = 0;
  const put = (pk: string, sk: string) => ({ TableName: tableName, Item: { pk, sk, text: itemText } });
  const transaction = (entries: number) => {
    const pk = `run${n++}`;
    return new TransactWriteCommand({
      TransactItems: [
        {
          Update: {
            TableName: tableName,
            Key: { pk, sk: 'META' },
            UpdateExpression: 'ADD lastSeq :one',
            ExpressionAttributeValues: { ':one': entries },
          },
        },
        // A run's entry: its message, its idempotency claim, its parked item's removal.
        ...Array.from({ length: entries }, (_, i) => [
          { Put: { ...put(pk, `MSG#${i}`), ConditionExpression: 'attribute_not_exists(pk)' } },
          { Put: { ...put(pk, `CLAIM#${i}`), ConditionExpression: 'attribute_not_exists(pk)' } },
          { Delete: { TableName: tableName, Key: { pk, sk: `PARKED#${i}` } } },
        ]).flat(),
      ],
    });
  };
  const operations: Record<string, () => Promise<unknown>> = {
    'PutItem, 300 B': () => documents.send(new PutCommand(put(`p${n % 50}`, `s${n++}`))),
    'GetItem, strong': () =>
      documents.send(
        new GetCommand({ TableName: tableName, Key: { pk: 'p1', sk: `s${n++ % 1000}` }, ConsistentRead: true }),
      ),
    'BatchGetItem of 2, strong': () =>
      documents.send(
        new BatchGetCommand({
          RequestItems: {
            [tableName]: {
              Keys: [
                { pk: 'p1', sk: `s${n++ % 1000}` },
                { pk: 'p2', sk: 'META' },
              ],
              ConsistentRead: true,
            },
          },
        }),
      ),
    'UpdateItem, ALL_NEW': () =>
      documents.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { pk: `m${n++ % 50}`, sk: 'META' },
          UpdateExpression: 'ADD nextSeq :one',
          ExpressionAttributeValues: { ':one': 1 },
          ReturnValues: 'ALL_NEW',
        }),
      ),
    'Query of 10, strong': () =>
      documents.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': `p${n++ % 50}` },
          Limit: 10,
          ConsistentRead: true,
        }),
      ),
    'TransactWriteItems, 1 entry (4 items)': () => documents.send(transaction(1)),
    'TransactWriteItems, 5 entries (16 items)': () => documents.send(transaction(5)),
  };
  const run = async (operation: () => Promise<unknown>, count: number) => {
    let left = count;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (left-- > 0) await operation();
      }),
    );
  };
  try {
    for (const operation of Object.values(operations)) await run(operation, warmUpCalls);
    const costs: OperationCost[] = [];
    for (const [name, operation] of Object.entries(operations)) {
      const javaBefore = dynamoPid === undefined ? undefined : processCpuMs(dynamoPid);
      const callerBefore = process.cpuUsage();
      const started = performance.now();
      await run(operation, calls);
      const seconds = (performance.now() - started) / 1000;
      const caller = process.cpuUsage(callerBefore);
      const javaAfter = dynamoPid === undefined ? undefined : processCpuMs(dynamoPid);
      costs.push({
        operation: name,
        dynamoDbLocalCpuMs:
          javaBefore === undefined || javaAfter === undefined ? null : round((javaAfter - javaBefore) / calls, 2),
        callerCpuMs: round((caller.user + caller.system) / 1000 / calls, 2),
        callsPerSecond: Math.round(calls / seconds),
      });
    }
    return costs;
  } finally {
    await admin.send(new DeleteTableCommand({ TableName: tableName }));
  }
}
