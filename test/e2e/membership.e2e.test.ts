/**
 * Membership changes over HTTP, through the real handlers with the rights the stack grants them (the
 * local IAM stand-in refuses any DynamoDB action a handler's catalog entry does not name).
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '#shared/aws/dynamodb';
import { conversationKeys } from '#shared/keys';
import { createLocalDynamoDbClient } from '../../local/aws-local';
import { api, issueToken } from '../support/chat-client';
import { startTestStack, type TestStack } from '../support/local-stack';

type User = { token: string; userId: string };

let stack: TestStack;

const call = (user: User, method: string, path: string, body?: unknown) =>
  api(stack.httpUrl, user.token, method, path, body);

beforeAll(async () => {
  stack = await startTestStack('e2e-membership');
});

afterAll(async () => {
  await stack?.stop();
});

/** A group created by `admin` with `members`, and `coAdmin` made a second admin. */
async function groupWithTwoAdmins(admin: User, coAdmin: User, members: readonly User[]): Promise<string> {
  const created = await call(admin, 'POST', '/conversations', {
    type: 'group',
    name: 'Two admins',
    memberIds: [coAdmin, ...members].map((user) => user.userId),
  });
  expect(created.status).toBe(201);
  const conversationId = String(created.body.id);
  // No route promotes a member yet; the row is what a promotion would write.
  const client = createLocalDynamoDbClient(stack.dynamoEndpoint);
  try {
    await createDocumentClient(client).send(
      new UpdateCommand({
        TableName: stack.tables.conversations.tableName,
        Key: conversationKeys.member(conversationId, coAdmin.userId),
        UpdateExpression: 'SET #role = :admin',
        ExpressionAttributeNames: { '#role': 'role' },
        ExpressionAttributeValues: { ':admin': 'admin' },
      }),
    );
  } finally {
    client.destroy();
  }
  return conversationId;
}

async function membersOf(viewer: User, conversationId: string): Promise<Record<string, string>> {
  const answer = await call(viewer, 'GET', `/conversations/${conversationId}`);
  expect(answer.status).toBe(200);
  const members = answer.body.members as { userId: string; role: string }[];
  return Object.fromEntries(members.map((member) => [member.userId, member.role]));
}

describe('an admin leaving a group that keeps another admin', () => {
  it('leaves over DELETE /participants: the other admin stays the only one, nobody is promoted', async () => {
    const [ann, ben, cat] = (await Promise.all(
      ['ann', 'ben', 'cat'].map((name) => issueToken(stack.httpUrl, name)),
    )) as [User, User, User];
    const conversationId = await groupWithTwoAdmins(ann, ben, [cat]);

    const left = await call(ann, 'DELETE', `/conversations/${conversationId}/participants/${ann.userId}`);

    expect(left.status).toBe(204);
    expect(await membersOf(ben, conversationId)).toEqual({ [ben.userId]: 'admin', [cat.userId]: 'member' });
  });

  it('leaves by deleting the account: the other admin stays the only one, nobody is promoted', async () => {
    const [dan, eve, fay] = (await Promise.all(
      ['dan', 'eve', 'fay'].map((name) => issueToken(stack.httpUrl, name)),
    )) as [User, User, User];
    const conversationId = await groupWithTwoAdmins(dan, eve, [fay]);

    const deleted = await call(eve, 'DELETE', `/users/${eve.userId}`);

    expect(deleted.status).toBe(204);
    expect(await membersOf(dan, conversationId)).toEqual({ [dan.userId]: 'admin', [fay.userId]: 'member' });
  });
});
