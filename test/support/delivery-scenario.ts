/**
 * One 1:1 message between two online devices and one offline device, for the e2e files that run the
 * stack with direct delivery on and off: what each device saw, and the writer's record if any.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'vitest';
import { createDocumentClient } from '#shared/aws/dynamodb';
import { createLocalDynamoDbClient } from '../../local/aws-local';
import { api, ChatClient, issueToken } from './chat-client';
import type { TestStack } from './local-stack';

export async function deliverOneMessage(stack: TestStack) {
  const [alice, bob] = await Promise.all(['alice', 'bob'].map((name) => issueToken(stack.httpUrl, name)));
  if (!alice || !bob) throw new Error('no tokens');
  // Bob's tablet is known and offline: fan-out must park for it whichever path reached the others.
  const tablet = await ChatClient.connect(stack.wsUrl, bob.token, 'tablet');
  await tablet.close();
  const created = await api(stack.httpUrl, alice.token, 'POST', '/conversations', {
    type: 'direct',
    memberIds: [bob.userId],
  });
  expect(created.status).toBe(201);
  const conversationId = String(created.body.id);
  const alicePhone = await ChatClient.connect(stack.wsUrl, alice.token, 'phone');
  const aliceLaptop = await ChatClient.connect(stack.wsUrl, alice.token, 'laptop');
  const bobLaptop = await ChatClient.connect(stack.wsUrl, bob.token, 'laptop');

  const accepted = await alicePhone.sendMessage(conversationId, 'one', 'just one');
  const message = accepted.message as { id: string; seq: number };
  await Promise.all([bobLaptop, aliceLaptop].map((client) => client.waitForMessage((m) => m.id === message.id)));
  await stack.streamsSettled();

  const documentClient = createDocumentClient(createLocalDynamoDbClient(stack.dynamoEndpoint));
  const record = await documentClient.send(
    new GetCommand({ TableName: stack.tables.directDeliveries.tableName, Key: { messageId: message.id } }),
  );
  const stored = await documentClient.send(
    new GetCommand({ TableName: stack.tables.messages.tableName, Key: { conversationId, seq: message.seq } }),
  );
  const tabletAgain = await ChatClient.connect(stack.wsUrl, bob.token, 'tablet');
  await tabletAgain.request({ action: 'sync' }, 'syncComplete');
  const framesOf = (client: ChatClient) => client.messages(conversationId).filter((m) => m.id === message.id).length;
  const seen = {
    bobLaptop: framesOf(bobLaptop),
    aliceLaptop: framesOf(aliceLaptop),
    alicePhone: framesOf(alicePhone),
    bobTabletAfterSync: framesOf(tabletAgain),
  };
  await Promise.all([alicePhone, aliceLaptop, bobLaptop, tabletAgain].map((client) => client.close()));
  return {
    seen,
    recordedDevices: record.Item ? [...(record.Item.devices as string[])].sort() : undefined,
    flagged: stored.Item?.directDelivery === true,
    alice,
    bob,
  };
}
