/**
 * What DynamoDB Local never answers: a single-item write meeting an in-flight transaction
 * (TransactionConflictException, which the SDK does not retry) and a BatchGetItem answered in part
 * under throttling (UnprocessedKeys). The send path meets both on a busy day.
 */
import { DynamoDBClient, TransactionConflictException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { createDocumentClient } from '#shared/aws/dynamodb';
import { conversationKeys } from '#shared/keys';
import { ConversationRepository } from '#shared/repositories/conversation-repository';
import { MessageRepository } from '#shared/repositories/message-repository';

const dynamo = mockClient(DynamoDBDocumentClient);
afterEach(() => dynamo.reset());

const documentClient = () => createDocumentClient(new DynamoDBClient({ region: 'us-east-1' }));
const messages = () =>
  new MessageRepository(documentClient(), { conversations: 'conversations', messages: 'messages', idempotency: 'ids' });
const conflict = () =>
  new TransactionConflictException({ message: 'Transaction is ongoing for the item', $metadata: {} });

describe('a seq ticket on a meta item a commit transaction holds', () => {
  it('is taken again after the transaction, not answered as a fault', async () => {
    dynamo
      .on(UpdateCommand)
      .rejectsOnce(conflict())
      .rejectsOnce(conflict())
      .resolves({ Attributes: { nextSeq: 8, lastSeq: 6 } });

    await expect(messages().takeTicket('c1')).resolves.toEqual({ ticket: 8, lastSeq: 6 });
    expect(dynamo.commandCalls(UpdateCommand)).toHaveLength(3);
  });

  it('gives up after a handful of attempts, with the conflict', async () => {
    dynamo.on(UpdateCommand).rejects(conflict());

    await expect(messages().takeTicket('c1')).rejects.toBeInstanceOf(TransactionConflictException);
    expect(dynamo.commandCalls(UpdateCommand)).toHaveLength(6);
  });
});

describe('the membership read answered in part (throttling)', () => {
  it('asks again for the keys left unprocessed and answers the whole membership', async () => {
    const meta = { ...conversationKeys.meta('c1'), id: 'c1', type: 'direct', lastSeq: 3, memberCount: 2 };
    const memberKey = conversationKeys.member('c1', 'ann');
    const member = { ...memberKey, conversationId: 'c1', memberUserId: 'ann', role: 'member', joinedSeq: 1 };
    dynamo
      .on(BatchGetCommand)
      .resolvesOnce({
        Responses: { conversations: [meta] },
        UnprocessedKeys: { conversations: { Keys: [memberKey], ConsistentRead: true } },
      })
      .resolves({ Responses: { conversations: [member] } });

    const membership = await new ConversationRepository(documentClient(), 'conversations').getMembership('c1', 'ann');

    expect(membership.conversation).toMatchObject({ id: 'c1', lastSeq: 3 });
    expect(membership.member).toMatchObject({ userId: 'ann' });
    expect(dynamo.commandCalls(BatchGetCommand)[1]?.args[0].input.RequestItems).toEqual({
      conversations: { Keys: [memberKey], ConsistentRead: true },
    });
  });
});
