/**
 * The local stack's IAM stand-in: inside an invocation, a handler's DynamoDB calls are refused as AWS
 * would refuse them when its catalog entry does not grant the action on that table.
 */
import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDocumentClient } from '#shared/aws/dynamodb';
import { createLocalDynamoDbClient } from '../../local/aws-local';
import { createLambdaRuntime, type LambdaRuntime } from '../../local/lambda-runtime';
import { createLocalLogger } from '../../local/log';
import { createLocalTables, type LocalTables } from '../../local/tables';

let client: DynamoDBClient;
let tables: LocalTables;
let runtime: LambdaRuntime;

beforeAll(async () => {
  client = createLocalDynamoDbClient(inject('dynamoEndpoint'));
  tables = await createLocalTables(client, `iam-${randomUUID().slice(0, 8)}-`);
  const documents = createDocumentClient(client);
  const profileKey = { pk: 'USER#iam', sk: 'PROFILE' };
  const readProfile = () => documents.send(new GetCommand({ TableName: tables.users.tableName, Key: profileKey }));
  const writeProfile = () =>
    documents.send(new PutCommand({ TableName: tables.users.tableName, Item: { ...profileKey, name: 'iam' } }));
  runtime = createLambdaRuntime({
    logger: createLocalLogger('SILENT'),
    tableName: (key) => tables[key].tableName,
    // Stand-ins run inside the invocation exactly as the real handlers do.
    overrides: {
      // Granted no table at all.
      wsDefault: async () => readProfile(),
      // Granted PutItem on users, and nothing else.
      wsConnect: async (event) => ((event as { read?: boolean }).read === true ? readProfile() : writeProfile()),
    },
  });
});

afterAll(() => client.destroy());

describe('DynamoDB calls inside an invocation', () => {
  it('refuses an action the function is not granted, naming the action, the table and the function', async () => {
    const refused = runtime.invoke('wsDefault', {});

    await expect(refused).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await expect(refused).rejects.toThrow(
      new RegExp(
        `assumed-role/parley-local-wsDefault/.* dynamodb:GetItem on resource: .*table/${tables.users.tableName} `,
      ),
    );
  });

  it('lets a granted action through, and refuses another action on the same table', async () => {
    await expect(runtime.invoke('wsConnect', { read: false })).resolves.toBeDefined();
    await expect(runtime.invoke('wsConnect', { read: true })).rejects.toThrow(/dynamodb:GetItem/);
  });

  it('leaves calls made outside any invocation alone', async () => {
    const documents = createDocumentClient(client);
    const key = { pk: 'USER#outside', sk: 'PROFILE' };
    await documents.send(new PutCommand({ TableName: tables.users.tableName, Item: { ...key, name: 'outside' } }));
    const answer = await documents.send(new GetCommand({ TableName: tables.users.tableName, Key: key }));

    expect(answer.Item).toMatchObject({ name: 'outside' });
  });
});
