/**
 * Integration-test fixture: a fresh set of Parley tables (created from the same specs as CDK and
 * the local stack) in the run's shared DynamoDB Local, under a prefix unique to the calling file.
 */
import { randomUUID } from 'node:crypto';
import { DeleteCommand, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { inject } from 'vitest';
import type { ConnectionPoster, PostOutcome } from '#shared/aws/connection-poster';
import { createDocumentClient } from '#shared/aws/dynamodb';
import type { Clock } from '#shared/clock';
import { limits } from '#shared/config/limits';
import type { TableKey } from '#shared/config/tables';
import { inboxKeys, userKeys } from '#shared/keys';
import type { StoredMessage } from '#shared/model';
import type { ServerFrame } from '#shared/protocol/frames';
import { AttachmentRepository } from '#shared/repositories/attachment-repository';
import { ConnectionRepository } from '#shared/repositories/connection-repository';
import { ConversationRepository } from '#shared/repositories/conversation-repository';
import { DeviceRepository } from '#shared/repositories/device-repository';
import { DirectDeliveryRepository } from '#shared/repositories/direct-delivery-repository';
import { InboxRepository, owedTimeline } from '#shared/repositories/inbox-repository';
import { MessageRepository } from '#shared/repositories/message-repository';
import { RateCounterRepository } from '#shared/repositories/rate-counter-repository';
import { ReceiptRepository } from '#shared/repositories/receipt-repository';
import { UserRepository } from '#shared/repositories/user-repository';
import { SendableAttachments } from '#shared/services/attachment-service';
import { ConnectionService } from '#shared/services/connection-service';
import { ConversationService } from '#shared/services/conversation-service';
import { DirectDelivery, type DirectDeliverySettings } from '#shared/services/direct-delivery-service';
import { type DirectDeliveryRecords, FanOutService } from '#shared/services/fan-out-service';
import { MessagingService } from '#shared/services/messaging-service';
import { TimelineWriter } from '#shared/services/timeline-writer';
import { createLocalDynamoDbClient } from '../../local/aws-local';
import { createLocalTables } from '../../local/tables';

/** User names unique to each call, so direct-pair claims and memberships never collide across tests. */
export function uniqueNames(tag: string) {
  let run = 0;
  return <Names extends string[]>(...base: Names) => {
    run++;
    return base.map((name) => `${name}-${tag}${run}`) as { [K in keyof Names]: string };
  };
}

/** A clock that moves `stepMs` forward at each reading, so times order the events that read it. */
export function steppingClock(stepMs: number): Clock {
  let tick = Date.now();
  return {
    now: () => {
      tick += stepMs;
      return new Date(tick);
    },
  };
}

/** Frozen at load, near real time: rows with TTLs (connections, inbox) must not look long expired to DynamoDB Local's reaper. */
const frozenAt = new Date();
export const fixedClock: Clock = { now: () => new Date(frozenAt) };

export async function useTestTables(label: string) {
  const endpoint = inject('dynamoEndpoint');
  const client = createLocalDynamoDbClient(endpoint);
  const prefix = `t-${label}-${randomUUID().slice(0, 8)}-`;
  const localTables = await createLocalTables(client, prefix);
  const documentClient = createDocumentClient(client);
  const name = (table: TableKey) => localTables[table].tableName;
  const conversations = new ConversationRepository(documentClient, name('conversations'));
  const messages = new MessageRepository(documentClient, {
    conversations: name('conversations'),
    messages: name('messages'),
    idempotency: name('idempotency'),
    attachments: name('attachments'),
    rateLimits: name('rateLimits'),
  });
  const repositories = {
    conversations,
    messages,
    devices: new DeviceRepository(documentClient, name('users')),
    users: new UserRepository(documentClient, name('users')),
    connections: new ConnectionRepository(documentClient, name('users')),
    inbox: new InboxRepository(
      documentClient,
      { inbox: name('inbox'), conversations: name('conversations') },
      limits.inboxRetentionDays * 86_400,
      owedTimeline(messages, conversations),
    ),
    receipts: new ReceiptRepository(documentClient, name('conversations'), name('receipts')),
    attachments: new AttachmentRepository(documentClient, name('attachments')),
    directDeliveries: new DirectDeliveryRepository(documentClient, name('directDeliveries')),
    rateCounters: new RateCounterRepository(documentClient, name('rateLimits')),
  };
  const sendableAttachments = new SendableAttachments(repositories.attachments, fixedClock);
  const timeline = new TimelineWriter(repositories.messages, fixedClock);
  return {
    documentClient,
    /** The prefixed name of one of this file's tables. */
    tableName: name,
    repositories,
    /** The stored timeline entries of a conversation from one seq to another, in order. */
    async timeline(conversationId: string, from: number, upTo: number): Promise<StoredMessage[]> {
      const page = await repositories.messages.page(conversationId, {
        direction: 'ascending',
        floorSeq: from,
        limit: upTo - from + 1,
      });
      return page.messages;
    },
    /** Every item of a device's inbox as stored (pointers and copies), strongly consistent. */
    async inboxItems(device: { readonly userId: string; readonly deviceId: string }) {
      const result = await documentClient.send(
        new QueryCommand({
          TableName: name('inbox'),
          KeyConditionExpression: 'deviceKey = :d',
          ExpressionAttributeValues: { ':d': inboxKeys.device(device.userId, device.deviceId) },
          ConsistentRead: true,
        }),
      );
      return result.Items ?? [];
    },
    /** The domain services wired as the handlers wire them, on the fixed clock. */
    services: {
      timeline,
      conversations: new ConversationService(repositories.conversations, timeline, fixedClock),
      sendableAttachments,
      messaging: new MessagingService(repositories.conversations, timeline, sendableAttachments),
      connections: new ConnectionService(repositories.devices, repositories.connections, fixedClock),
      fanOut: (poster: ConnectionPoster, clock: Clock = fixedClock, direct?: DirectDeliveryRecords) =>
        new FanOutService(
          repositories.conversations,
          repositories.connections,
          repositories.inbox,
          poster,
          clock,
          { info: () => undefined, warn: () => undefined },
          direct,
        ),
      /** Sends that deliver directly through `poster` (the fast path), with the catalog's settings unless given. */
      messagingWithDirectDelivery: (
        poster: ConnectionPoster,
        settings: Partial<DirectDeliverySettings> = {},
        records: DirectDeliveryRepository = repositories.directDeliveries,
      ) =>
        new MessagingService(
          repositories.conversations,
          timeline,
          sendableAttachments,
          new DirectDelivery(
            repositories.conversations,
            repositories.connections,
            records,
            poster,
            fixedClock,
            { warn: () => undefined },
            { ...limits.directDelivery, ...settings },
          ),
        ),
    },
    raw: {
      /** Full connection rows of a user (`USER#id`/`CONNECTION#…` in the users table), TTL included. */
      async scanConnections(userId: string) {
        const result = await documentClient.send(
          new QueryCommand({
            TableName: name('users'),
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
            ExpressionAttributeValues: { ':pk': userKeys.userPartition(userId), ':prefix': userKeys.connectionPrefix },
            ConsistentRead: true,
          }),
        );
        return result.Items ?? [];
      },
      /** Deletes one users-table item, as if it had never been written (data from before a change). */
      async deleteUsersItem(key: { pk: string; sk: string }) {
        await documentClient.send(new DeleteCommand({ TableName: name('users'), Key: key }));
      },
      /** One users-table item as stored (profile, tombstone, username claim), read strongly. */
      async usersItem(key: { pk: string; sk: string }) {
        const result = await documentClient.send(
          new GetCommand({ TableName: name('users'), Key: key, ConsistentRead: true }),
        );
        return result.Item;
      },
    },
  };
}

export type TestTables = Awaited<ReturnType<typeof useTestTables>>;

/** A ConnectionPoster double that records frames; configured ids answer gone or fail, a text can fail. */
export class RecordingPoster implements ConnectionPoster {
  readonly posts: { connectionId: string; frame: ServerFrame }[] = [];

  constructor(private readonly behaviour: { gone?: string[]; failOnText?: string; failFor?: string[] } = {}) {}

  async post(connectionId: string, frame: ServerFrame): Promise<PostOutcome> {
    if (this.behaviour.gone?.includes(connectionId)) return 'gone';
    if (this.behaviour.failFor?.includes(connectionId)) throw new Error('injected post timeout');
    if (frame.type === 'message' && frame.message.text === this.behaviour.failOnText) {
      throw new Error('injected 500 from the management API');
    }
    this.posts.push({ connectionId, frame });
    return 'sent';
  }

  readonly disconnected: string[] = [];

  async disconnect(connectionId: string): Promise<void> {
    this.disconnected.push(connectionId);
  }

  postedTo(): string[] {
    return this.posts.map((post) => post.connectionId);
  }

  framesTo(connectionId: string): ServerFrame[] {
    return this.posts.filter((post) => post.connectionId === connectionId).map((post) => post.frame);
  }

  textsPostedTo(connectionId: string): string[] {
    return this.framesTo(connectionId).flatMap((frame) => (frame.type === 'message' ? [frame.message.text] : []));
  }
}
