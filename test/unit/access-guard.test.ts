/** Which IAM actions a DynamoDB call needs, and the client middleware that shows them to the guard. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { type DynamoDbAccess, requiredAccess, setDynamoDbAccessGuard } from '#shared/aws/access-guard';
import { createDocumentClient } from '#shared/aws/dynamodb';

afterEach(() => {
  setDynamoDbAccessGuard(undefined);
});

describe('requiredAccess', () => {
  it('needs the operation itself on the table of a single-table call', () => {
    expect(requiredAccess('Query', { TableName: 'Users', IndexName: 'byConnectionId' })).toEqual([
      { action: 'Query', tableName: 'Users' },
    ]);
    expect(requiredAccess('UpdateItem', { TableName: 'Conversations', Key: {} })).toEqual([
      { action: 'UpdateItem', tableName: 'Conversations' },
    ]);
  });

  it('needs a batch operation on every table of the batch', () => {
    expect(requiredAccess('BatchWriteItem', { RequestItems: { Inbox: [], Users: [] } })).toEqual([
      { action: 'BatchWriteItem', tableName: 'Inbox' },
      { action: 'BatchWriteItem', tableName: 'Users' },
    ]);
  });

  it("needs each transaction item's own action on its table, not TransactWriteItems", () => {
    const items = [
      { Put: { TableName: 'Messages', Item: {} } },
      { Update: { TableName: 'Conversations', Key: {} } },
      { ConditionCheck: { TableName: 'Conversations', Key: {} } },
      { Delete: { TableName: 'Idempotency', Key: {} } },
    ];
    expect(requiredAccess('TransactWriteItems', { TransactItems: items })).toEqual([
      { action: 'PutItem', tableName: 'Messages' },
      { action: 'UpdateItem', tableName: 'Conversations' },
      { action: 'ConditionCheckItem', tableName: 'Conversations' },
      { action: 'DeleteItem', tableName: 'Idempotency' },
    ]);
    expect(requiredAccess('TransactGetItems', { TransactItems: [{ Get: { TableName: 'Users', Key: {} } }] })).toEqual([
      { action: 'GetItem', tableName: 'Users' },
    ]);
  });
});

describe('the access guard middleware', () => {
  // Nothing listens here: a call the guard lets through fails to connect instead.
  const unreachable = () =>
    createDocumentClient(
      new DynamoDBClient({
        endpoint: 'http://127.0.0.1:9',
        region: 'us-east-1',
        credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
        maxAttempts: 1,
      }),
    );

  it('shows the guard every document-client call, as IAM sees it, and sends nothing it refuses', async () => {
    const seen: DynamoDbAccess[][] = [];
    setDynamoDbAccessGuard((accesses) => {
      seen.push([...accesses]);
      throw Object.assign(new Error('refused'), { name: 'AccessDeniedException' });
    });
    const client = unreachable();

    await expect(client.send(new GetCommand({ TableName: 'Users', Key: { pk: 'u', sk: 'p' } }))).rejects.toThrow(
      'refused',
    );
    await expect(
      client.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: 'Messages', Item: { conversationId: 'c', seq: 1 } } },
            {
              Update: {
                TableName: 'Conversations',
                Key: { pk: 'c' },
                UpdateExpression: 'SET n = :n',
                ExpressionAttributeValues: { ':n': 1 },
              },
            },
          ],
        }),
      ),
    ).rejects.toThrow('refused');
    expect(seen).toEqual([
      [{ action: 'GetItem', tableName: 'Users' }],
      [
        { action: 'PutItem', tableName: 'Messages' },
        { action: 'UpdateItem', tableName: 'Conversations' },
      ],
    ]);
  });

  it('sends the call when the guard allows it, or when none is installed', async () => {
    const client = unreachable();
    const get = () => client.send(new GetCommand({ TableName: 'Users', Key: { pk: 'u', sk: 'p' } }));

    setDynamoDbAccessGuard(() => undefined);
    await expect(get()).rejects.toThrow(/ECONNREFUSED|connect/);
    setDynamoDbAccessGuard(undefined);
    await expect(get()).rejects.toThrow(/ECONNREFUSED|connect/);
  });
});
