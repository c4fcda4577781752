/** What DynamoDB Local cannot stage: it serializes transactions, so it never answers TransactionConflict. */
import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { createDocumentClient } from '#shared/aws/dynamodb';
import { ConflictError } from '#shared/errors';
import { type UserProfile, UserRepository } from '#shared/repositories/user-repository';

const dynamo = mockClient(DynamoDBDocumentClient);
afterEach(() => dynamo.reset());

const profile: UserProfile = {
  id: 'ann',
  name: 'Ann',
  username: 'ann',
  readReceipts: true,
  showPresence: true,
  pushPreview: true,
  groupAdds: 'everyone',
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
};

const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

const repository = () => new UserRepository(createDocumentClient(new DynamoDBClient({ region: 'us-east-1' })), 'users');

describe('UserRepository transactions', () => {
  it('retries one that lost to a concurrent transaction and answers the real outcome', async () => {
    dynamo
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled('None', 'TransactionConflict'))
      .rejectsOnce(cancelled('None', 'ConditionalCheckFailed'));

    await expect(repository().create(profile)).resolves.toBe('usernameTaken');
    expect(dynamo.commandCalls(TransactWriteCommand)).toHaveLength(2);
  });

  it('answers conflict when it keeps losing', async () => {
    dynamo.on(TransactWriteCommand).rejects(cancelled('TransactionConflict', 'None'));

    await expect(repository().create(profile)).rejects.toBeInstanceOf(ConflictError);
  });

  it('passes any other cancellation on as a fault', async () => {
    dynamo.on(TransactWriteCommand).rejects(cancelled('ValidationError', 'None'));

    await expect(repository().create(profile)).rejects.toBeInstanceOf(TransactionCanceledException);
  });
});
