/**
 * The DynamoDB-limited ceiling: the same per-message work the messaging path does (the send's reads
 * and transaction, then fan-out's member reads, one devices-and-connections Query per recipient and
 * inbox writes), issued by the real services and repositories through the SDK straight at DynamoDB
 * Local, with no WebSocket gateway, Lambda runtime, stream polling or postToConnection in between.
 * Each lane sends back to back, keeping up to a few messages in fan-out at once (pipelined), so the
 * database sets the pace rather than each message's round trip. Fan-out runs through an in-process stand-in for the stream trigger (batches of up to 100,
 * 4 partitions by conversation, as `streamTriggers` configures on AWS), so batching amortises reads
 * as it does there.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type AttributeValue, type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import pLimit from 'p-limit';
import type { ConnectionPoster } from '#shared/aws/connection-poster';
import { createDocumentClient } from '#shared/aws/dynamodb';
import { systemClock } from '#shared/clock';
import { streamTriggers } from '#shared/config/functions';
import { limits } from '#shared/config/limits';
import type { KeyAttribute } from '#shared/config/tables';
import type { StoredMessage } from '#shared/model';
import { AttachmentRepository } from '#shared/repositories/attachment-repository';
import { ConnectionRepository } from '#shared/repositories/connection-repository';
import { ConversationRepository } from '#shared/repositories/conversation-repository';
import { DeviceRepository } from '#shared/repositories/device-repository';
import { InboxRepository } from '#shared/repositories/inbox-repository';
import { MessageRepository } from '#shared/repositories/message-repository';
import { RateCounterRepository } from '#shared/repositories/rate-counter-repository';
import { SendableAttachments } from '#shared/services/attachment-service';
import { ConnectionService } from '#shared/services/connection-service';
import { ConversationService } from '#shared/services/conversation-service';
import { FanOutService } from '#shared/services/fan-out-service';
import { MessagingService } from '#shared/services/messaging-service';
import { SendRateLimiter } from '#shared/services/send-rate-limiter';
import { TimelineWriter } from '#shared/services/timeline-writer';
import type { LocalTables } from '../local/tables';
import type { Workload } from './driver-protocol';
import { messageText } from './settings';

export interface CeilingScene {
  readonly workload: Workload;
  readonly conversations: number;
  readonly lanesPerConversation: number;
  readonly groupSize: number;
  readonly groupOnlineShare: number;
  readonly devicesPerOnlineMember: number;
  readonly textLength: number;
}

export interface CeilingRun {
  readonly lanes: number;
  /** Messages whose fan-out finished inside the measured window (after the ramp, before the deadline). */
  readonly messages: number;
  /** Every message sent, the pipelined tail finished after the window included: what the calls divide by. */
  readonly completedInAll: number;
  readonly failures: number;
  /** The measured window: the run less its ramp. */
  readonly seconds: number;
  readonly messagesPerSecond: number;
  readonly fanOutBatches: number;
}

interface SceneConversation {
  readonly id: string;
  /** Online devices that send (each member's first device). */
  readonly senders: readonly { readonly userId: string; readonly deviceId: string }[];
}

const fanOutTrigger = streamTriggers.find((trigger) => trigger.function === 'streamFanOut');
const batchSize = fanOutTrigger?.batchSize ?? 100;
const partitions = fanOutTrigger?.parallelizationFactor ?? 1;

/** postToConnection costs no DynamoDB work; the ceiling counts every post as sent. */
const nullPoster: ConnectionPoster = {
  post: () => Promise.resolve('sent'),
  disconnect: () => Promise.resolve(),
};

const quietLogger = { info: () => undefined, warn: () => undefined };

/** Services wired like lambdas/lib/wiring.ts, each Lambda's share with its own client (and socket pool). */
export function ceilingServices(tables: LocalTables) {
  const sendClient = createDocumentClient();
  const fanOutClient = createDocumentClient();
  const conversationsFor = (client: typeof sendClient) =>
    new ConversationRepository(client, tables.conversations.tableName);
  const timeline = new TimelineWriter(
    new MessageRepository(sendClient, {
      conversations: tables.conversations.tableName,
      messages: tables.messages.tableName,
      idempotency: tables.idempotency.tableName,
    }),
    systemClock,
  );
  const messaging = new MessagingService(
    conversationsFor(sendClient),
    timeline,
    new SendableAttachments(new AttachmentRepository(sendClient, tables.attachments.tableName), systemClock),
  );
  const devices = new DeviceRepository(fanOutClient, tables.users.tableName);
  const connections = new ConnectionRepository(fanOutClient, tables.users.tableName);
  const fanOut = new FanOutService(
    conversationsFor(fanOutClient),
    connections,
    new InboxRepository(
      fanOutClient,
      { inbox: tables.inbox.tableName, conversations: tables.conversations.tableName },
      limits.inboxRetentionDays * 24 * 60 * 60,
    ),
    nullPoster,
    systemClock,
    quietLogger,
  );
  const conversationService = new ConversationService(conversationsFor(sendClient), timeline, systemClock);
  const connectionService = new ConnectionService(devices, connections, systemClock);
  // The send Lambda counts every send against the sender's rate limit first (lambdas/ws-send-message.ts).
  const sendRate = new SendRateLimiter(new RateCounterRepository(sendClient, tables.rateLimits.tableName), systemClock);
  return { messaging, fanOut, conversationService, connectionService, devices, sendRate };
}

type Services = ReturnType<typeof ceilingServices>;

/**
 * On every request to a stream-enabled table, DynamoDB Local finds the stream's oldest record by walking
 * every stream record in the database written before it (the records table is keyed by sequence number
 * alone). A ceiling table whose stream began after the workloads' records would pay for all of them on
 * every request, as the stack's own tables, written from the start, do not: so each ceiling stream gets
 * its first record now, before the workloads run. No poller reads these streams.
 */
export async function anchorCeilingStreams(client: DynamoDBClient, tables: LocalTables): Promise<void> {
  const keyValue = (attribute: KeyAttribute): AttributeValue =>
    attribute.type === 'N' ? { N: '0' } : { S: 'stream-anchor' };
  for (const table of Object.values(tables)) {
    if (table.streamArn === undefined) continue;
    const { partitionKey, sortKey } = table.spec;
    await client.send(
      new PutItemCommand({
        TableName: table.tableName,
        Item: {
          [partitionKey.name]: keyValue(partitionKey),
          ...(sortKey === undefined ? {} : { [sortKey.name]: keyValue(sortKey) }),
        },
      }),
    );
  }
}

/** Writes the scene's users, devices, connections and conversations (not measured). */
export async function seedCeilingScene(services: Services, scene: CeilingScene, label: string) {
  const limit = pLimit(32);
  const conversations: SceneConversation[] = [];
  const connect = (userId: string, deviceId: string) =>
    limit(() => services.connectionService.connect({ userId, deviceId, connectionId: `${userId}-${deviceId}-conn` }));
  if (scene.workload === 'direct') {
    await Promise.all(
      Array.from({ length: scene.conversations }, async (_, i) => {
        const [a, b] = [`${label}-p${i}-a`, `${label}-p${i}-b`];
        await Promise.all([connect(a, 'phone'), connect(b, 'phone')]);
        const { conversation } = await limit(() =>
          services.conversationService.create({ creatorId: a, type: 'direct', memberIds: [b] }),
        );
        conversations.push({
          id: conversation.id,
          senders: [
            { userId: a, deviceId: 'phone' },
            { userId: b, deviceId: 'phone' },
          ],
        });
      }),
    );
    return conversations;
  }
  const deviceIds = ['phone', 'laptop', 'tablet', 'watch'].slice(0, scene.devicesPerOnlineMember);
  for (let g = 0; g < scene.conversations; g++) {
    const members = Array.from({ length: scene.groupSize }, (_, i) => `${label}-g${g}-m${i}`);
    const onlineCount = Math.round(scene.groupSize * scene.groupOnlineShare);
    const online = members.slice(0, onlineCount);
    await Promise.all([
      ...online.flatMap((userId) => deviceIds.map((deviceId) => connect(userId, deviceId))),
      // Offline members have a known device and no connection: fan-out parks for it.
      ...members
        .slice(onlineCount)
        .map((userId) =>
          limit(() => services.devices.register({ userId, deviceId: 'tablet' }, new Date().toISOString())),
        ),
    ]);
    const [creator, ...others] = members as [string, ...string[]];
    const { conversation } = await services.conversationService.create({
      creatorId: creator,
      type: 'group',
      name: `ceiling ${g}`,
      memberIds: others,
    });
    conversations.push({
      id: conversation.id,
      senders: online.map((userId) => ({ userId, deviceId: deviceIds[0] ?? 'phone' })),
    });
  }
  return conversations;
}

/** Messages one ceiling lane may have between its send and the end of their fan-out. */
const pipelineDepth = 4;
/** Share of each ceiling run spent filling the pipelines before completions count. */
const rampShare = 0.2;

/** Stand-in for the stream trigger: per partition, one batch at a time, each message resolved when delivered. */
class FanOutQueue {
  batches = 0;
  failures = 0;
  private readonly queues: Array<Array<{ message: StoredMessage; done: () => void }>> = Array.from(
    { length: partitions },
    () => [],
  );
  private readonly wakers: Array<(() => void) | undefined> = Array.from({ length: partitions }, () => undefined);
  private stopped = false;
  private readonly loops: Promise<void>[];

  constructor(private readonly services: Services) {
    this.loops = this.queues.map((_, partition) => this.loop(partition));
  }

  deliver(message: StoredMessage): Promise<void> {
    const partition = hash(message.conversationId) % partitions;
    return new Promise((done) => {
      this.queues[partition]?.push({ message, done });
      this.wakers[partition]?.();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const wake of this.wakers) wake?.();
    await Promise.all(this.loops);
  }

  private async loop(partition: number): Promise<void> {
    const queue = this.queues[partition] ?? [];
    while (!this.stopped) {
      if (queue.length === 0) {
        await new Promise<void>((wake) => {
          this.wakers[partition] = wake;
        });
        this.wakers[partition] = undefined;
        continue;
      }
      const batch = queue.splice(0, batchSize);
      this.batches += 1;
      try {
        const result = await this.services.fanOut.deliver(batch.map((item) => item.message));
        if (result.firstFailedIndex !== undefined) this.failures += batch.length - result.firstFailedIndex;
      } catch {
        this.failures += batch.length;
      }
      for (const item of batch) item.done();
    }
  }
}

/** The scene for `seconds`: lanes send, pipelined a few deep; a message counts once its fan-out is done. */
export async function runCeiling(
  services: Services,
  conversations: readonly SceneConversation[],
  scene: CeilingScene,
  seconds: number,
  label: string,
): Promise<CeilingRun> {
  const queue = new FanOutQueue(services);
  const lanes = conversations.flatMap((conversation) =>
    Array.from({ length: scene.lanesPerConversation }, (_, lane) => ({ conversation, lane })),
  );
  let messages = 0;
  let completedInAll = 0;
  let failures = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  // Completions count from the end of the ramp to the deadline: the pipelines fill in the first fifth,
  // and the tail drained after the deadline is neither counted nor timed.
  const measuredFrom = started + seconds * 1000 * rampShare;
  let picks = 7;
  await Promise.all(
    lanes.map(async ({ conversation, lane }, laneIndex) => {
      // Pipelined: a lane sends its next message while earlier ones are still in fan-out (at most
      // `pipelineDepth`), so the database, not the wait for each fan-out, sets the pace.
      const inFanOut: Promise<void>[] = [];
      for (let k = 0; performance.now() < deadline; k++) {
        if (inFanOut.length >= pipelineDepth) await inFanOut.shift();
        // 1:1 alternates between the two members; groups take online members in turn.
        picks = (picks * 1103515245 + 12345) % 2147483648;
        const index = scene.workload === 'direct' ? (k + lane) % 2 : picks % conversation.senders.length;
        const sender = conversation.senders[index] ?? conversation.senders[0];
        if (sender === undefined) return;
        const id = `${label}-${laneIndex}-${k}`;
        try {
          await services.sendRate.consume(sender.userId);
          const { message } = await services.messaging.send({
            senderId: sender.userId,
            senderDeviceId: sender.deviceId,
            conversationId: conversation.id,
            clientMessageId: id,
            text: messageText(id, scene.textLength),
          });
          inFanOut.push(
            queue.deliver({ ...message, senderDeviceId: sender.deviceId }).then(() => {
              // Counted once every recipient device has it, and only inside the measured window.
              const now = performance.now();
              if (now >= measuredFrom && now < deadline) messages += 1;
              completedInAll += 1;
            }),
          );
        } catch {
          failures += 1;
          await sleep(10);
        }
      }
      await Promise.all(inFanOut);
    }),
  );
  await queue.stop();
  const measuredSeconds = (deadline - measuredFrom) / 1000;
  return {
    lanes: lanes.length,
    messages,
    completedInAll,
    failures: failures + queue.failures,
    seconds: measuredSeconds,
    messagesPerSecond: messages / measuredSeconds,
    fanOutBatches: queue.batches,
  };
}

/** One conversation's commit rate, sends only (no fan-out, no per-user rate limit in the way). */
export interface HotConversationRun {
  readonly senders: number;
  readonly seconds: number;
  readonly accepted: number;
  readonly failed: number;
  readonly messagesPerSecond: number;
}

/**
 * One conversation, many concurrent senders, sends only: how fast one conversation's seq counter
 * lets messages commit (the hot-group limit). A closed loop: each sender sends its next message
 * once the last one is accepted.
 */
export async function measureHotConversation(
  services: Services,
  { conversationId, senderOf }: HotScene,
  senders: number,
  seconds: number,
  textLength: number,
): Promise<HotConversationRun> {
  let accepted = 0;
  let failed = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: senders }, async (_, i) => {
      for (let k = 0; performance.now() < deadline; k++) {
        const id = `hot-${i}-${k}`;
        try {
          await services.messaging.send({
            ...senderOf(i),
            conversationId,
            clientMessageId: id,
            text: messageText(id, textLength),
          });
          accepted += 1;
        } catch {
          failed += 1;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  return { senders, seconds: elapsed, accepted, failed, messagesPerSecond: accepted / elapsed };
}

/**
 * One device sends `messages` at once into a fresh conversation (an SDK flushing its outbox on
 * reconnect, a bot): every send concurrent, as separate invocations would be. Timed from the first
 * send to the last answer.
 */
export async function measureHotBurst(
  services: Services,
  { conversationId, senderOf }: HotScene,
  messages: number,
  textLength: number,
  label: string,
): Promise<HotConversationRun> {
  const started = performance.now();
  const outcomes = await Promise.allSettled(
    Array.from({ length: messages }, (_, k) => {
      const id = `${label}-${k}`;
      return services.messaging.send({
        ...senderOf(0),
        conversationId,
        clientMessageId: id,
        text: messageText(id, textLength),
      });
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const accepted = outcomes.filter((outcome) => outcome.status === 'fulfilled').length;
  return { senders: 1, seconds: elapsed, accepted, failed: messages - accepted, messagesPerSecond: accepted / elapsed };
}

/**
 * The same burst as the SDK sends it: the first message alone (nothing queued behind it yet), then
 * `sendMessages` frames of up to `limits.maxMessagesPerSend`, one in flight at a time.
 */
export async function measureHotFramedBurst(
  services: Services,
  { conversationId, senderOf }: HotScene,
  messages: number,
  textLength: number,
  label: string,
): Promise<HotConversationRun> {
  const all = Array.from({ length: messages }, (_, k) => {
    const clientMessageId = `${label}-${k}`;
    return { clientMessageId, text: messageText(clientMessageId, textLength) };
  });
  const frames = [all.slice(0, 1)];
  for (let at = 1; at < all.length; at += limits.maxMessagesPerSend) {
    frames.push(all.slice(at, at + limits.maxMessagesPerSend));
  }
  const started = performance.now();
  let accepted = 0;
  for (const frame of frames) {
    try {
      accepted += (await services.messaging.sendMany({ ...senderOf(0), conversationId, messages: frame })).length;
    } catch {
      // Counted as failed below.
    }
  }
  const elapsed = (performance.now() - started) / 1000;
  return { senders: 1, seconds: elapsed, accepted, failed: messages - accepted, messagesPerSecond: accepted / elapsed };
}

export type HotScene = Awaited<ReturnType<typeof hotConversationScene>>;

/**
 * A fresh conversation and its senders (not measured): a group of `senders` distinct members with
 * one device each, as a busy group is (each sender's member row is its own item in a run), or, for
 * one sender, a direct conversation (a device flushing its outbox to a peer).
 */
export async function hotConversationScene(services: Services, label: string, senders: number) {
  const users =
    senders === 1 ? [`${label}-a`, `${label}-b`] : Array.from({ length: senders }, (_, i) => `${label}-u${i}`);
  const senderOf = (i: number) => ({ senderId: users[i % users.length] as string, senderDeviceId: `d${i}` });
  await Promise.all(
    Array.from({ length: senders }, (_, i) =>
      services.connectionService.connect({
        userId: senderOf(i).senderId,
        deviceId: senderOf(i).senderDeviceId,
        connectionId: `${label}-d${i}`,
      }),
    ),
  );
  const [creatorId, ...memberIds] = users as [string, ...string[]];
  const { conversation } = await services.conversationService.create({
    creatorId,
    type: senders === 1 ? 'direct' : 'group',
    memberIds,
  });
  return { conversationId: conversation.id, senderOf };
}

function hash(value: string): number {
  let h = 0;
  for (let i = 0; i < value.length; i++) h = (Math.imul(h, 31) + value.charCodeAt(i)) | 0;
  return Math.abs(h);
}
