import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import type { ConnectionPoster } from '../aws/connection-poster';
import { type Clock, epochSeconds } from '../clock';
import { limits } from '../config/limits';
import { correlationFields, correlationIdOf } from '../correlation';
import { deviceKey } from '../keys';
import {
  type Connection,
  type Device,
  isSendingDevice,
  type Member,
  recipientsAt,
  type StoredMessage,
  toWireMessage,
} from '../model';
import type { ConnectionRepository, Reach } from '../repositories/connection-repository';
import type { ConversationRepository } from '../repositories/conversation-repository';
import type { DirectDeliveryRepository } from '../repositories/direct-delivery-repository';
import type { InboxRepository } from '../repositories/inbox-repository';
import type { PushWindowRepository } from '../repositories/push-window-repository';
import type { PresenceAnnouncer } from './connection-service';
import { type PushJob, previewOf } from './push-job';

export interface FanOutResult {
  /** Index (in the input) of the first message that could not be delivered; later ones were not attempted in its conversation. */
  readonly firstFailedIndex?: number;
  readonly posted: number;
  /** Devices skipped because the send's direct delivery reached them. */
  readonly directlyReached: number;
  readonly parked: number;
  readonly staleConnections: number;
  /** Pushes handed to the push sender (one per offline subscribed device and conversation, per window). */
  readonly pushes: number;
}

/** Hands a push to the sender without waiting for the push service (on AWS, an asynchronous invoke). */
export interface PushDispatcher {
  dispatch(job: PushJob): Promise<void>;
}

/** Web Push for parked devices that have a subscription: one per device and conversation per window. */
export interface PushScheduling {
  readonly windows: PushWindowRepository;
  readonly dispatcher: PushDispatcher;
  readonly windowSeconds: number;
}

/** Lines name messages by correlation id and carry counts only, never text. */
/** Where fan-out learns which devices a send reached directly, and how long it waits for that record. */
export interface DirectDeliveryRecords {
  readonly records: DirectDeliveryRepository;
  readonly recordWaitMs: number;
}

export interface FanOutLogger {
  info(message: string, details: Record<string, unknown>): void;
  warn(message: string, details: Record<string, unknown>): void;
}

/**
 * Delivers stored messages to every member device except the sending one: live through each
 * connection the device has, or parked in the device's inbox when it has none (or all are gone).
 */
export class FanOutService {
  constructor(
    private readonly conversations: ConversationRepository,
    private readonly connections: ConnectionRepository,
    private readonly inbox: InboxRepository,
    private readonly poster: ConnectionPoster,
    private readonly clock: Clock,
    private readonly logger: FanOutLogger,
    private readonly direct?: DirectDeliveryRecords,
    private readonly pushes?: PushScheduling,
    /** Tells a user's watchers when a 410 took their last live device (PresenceAnnouncements). */
    private readonly presence?: PresenceAnnouncer,
  ) {}

  /**
   * `messages` in stream order. Conversations proceed in parallel; within one, messages go one
   * after another so every device sees them in seq order, and the first failure stops that
   * conversation (the caller reports it and the stream retries from there).
   */
  async deliver(messages: readonly StoredMessage[]): Promise<FanOutResult> {
    const batch = new BatchState(
      this.connections,
      (conversationId) => this.conversations.listMembers(conversationId),
      () => epochSeconds(this.clock.now()),
    );
    const byConversation = new Map<string, { index: number; message: StoredMessage }[]>();
    messages.forEach((message, index) => {
      const entries = byConversation.get(message.conversationId) ?? [];
      entries.push({ index, message });
      byConversation.set(message.conversationId, entries);
    });
    // A run of queued sends commits in one transaction, whose records DynamoDB Streams orders per item
    // only: each conversation goes out in seq order.
    for (const entries of byConversation.values()) entries.sort((a, b) => a.message.seq - b.message.seq);
    // The members' Query and the direct records' read do not wait on each other: one round trip, not two.
    for (const conversationId of byConversation.keys()) void batch.membersOf(conversationId);
    for (const [messageId, devices] of await this.readDirectRecords(messages))
      batch.addDirectRecord(messageId, devices);

    const failedIndexes: number[] = [];
    await Promise.all(
      [...byConversation].map(async ([conversationId, entries]) => {
        try {
          await this.awaitDirectRecords(
            entries.map((entry) => entry.message),
            batch,
          );
        } catch (error) {
          this.logger.warn('fan-out failed', { conversationId, error: String(error) });
          failedIndexes.push(Math.min(...entries.map((entry) => entry.index)));
          return;
        }
        for (const [position, { index, message }] of entries.entries()) {
          try {
            // Member rows (past ones included) are read once per conversation per batch, not once per
            // message; each row's membership periods decide which of the batch's messages it gets.
            const members = await batch.membersOf(conversationId);
            await this.deliverOne(message, members, batch, index);
          } catch (error) {
            this.logger.warn('fan-out failed', {
              ...correlationFields(correlationIdOf(message)),
              conversationId,
              seq: message.seq,
              error: String(error),
            });
            // Retried from the first record, in stream order, of those not delivered.
            failedIndexes.push(Math.min(...entries.slice(position).map((entry) => entry.index)));
            return;
          }
        }
      }),
    );
    failedIndexes.push(...(await this.reachLateConnections(batch)));
    const pushes = await this.schedulePushes(batch);
    return {
      ...(failedIndexes.length > 0 ? { firstFailedIndex: Math.min(...failedIndexes) } : {}),
      posted: batch.posted,
      directlyReached: batch.directlyReached,
      parked: batch.parked,
      staleConnections: batch.stale,
      pushes,
    };
  }

  /**
   * After the parks: for each parked device with a push subscription that no late connection reached,
   * the newest message of each conversation it got in this batch, if it is someone else's text, goes
   * to the push sender, once its window for that conversation opens (a conditional write; a burst
   * spread over batches pushes once). Best effort: a failure is logged and never fails the batch,
   * whose messages are parked already.
   */
  private async schedulePushes(batch: BatchState): Promise<number> {
    const scheduling = this.pushes;
    if (!scheduling) return 0;
    const jobs: PushJob[] = [];
    for (const [userId, parkedByDevice] of batch.parkedByUser()) {
      let subscriptions: Reach['pushSubscriptions'];
      try {
        subscriptions = (await batch.reachOf(userId)).pushSubscriptions;
      } catch {
        continue;
      }
      for (const [deviceId, parked] of parkedByDevice) {
        const subscription = subscriptions?.get(deviceId);
        if (!subscription || batch.wasReachedLate(userId, deviceId)) continue;
        const newestByConversation = new Map<string, StoredMessage>();
        for (const { message } of parked) {
          if (message.type === 'text' && message.senderId !== userId) {
            newestByConversation.set(message.conversationId, message);
          }
        }
        for (const message of newestByConversation.values()) {
          jobs.push({
            userId,
            deviceId,
            subscription,
            conversationId: message.conversationId,
            seq: message.seq,
            senderId: message.senderId,
            text: previewOf(message.text),
          });
        }
      }
    }
    const nowEpochSeconds = epochSeconds(this.clock.now());
    const dispatched = await Promise.all(
      jobs.map((job) =>
        batch.postLimit(async () => {
          try {
            const claimed = await scheduling.windows.claim(
              job.userId,
              job.deviceId,
              job.conversationId,
              nowEpochSeconds,
              scheduling.windowSeconds,
            );
            if (!claimed) return 0;
            await scheduling.dispatcher.dispatch(job);
            return 1;
          } catch (error) {
            this.logger.warn('push not scheduled', {
              userId: job.userId,
              deviceId: job.deviceId,
              conversationId: job.conversationId,
              seq: job.seq,
              error: String(error),
            });
            return 0;
          }
        }),
      ),
    );
    return dispatched.reduce<number>((sum, count) => sum + count, 0);
  }

  /** The records of every message the writer flagged for direct delivery, in one BatchGetItem per 100. */
  private async readDirectRecords(messages: readonly StoredMessage[]): Promise<Map<string, ReadonlySet<string>>> {
    const flagged = messages.filter((message) => message.directDelivery);
    if (!this.direct || flagged.length === 0) return new Map();
    return new Map(await this.direct.records.reached(flagged.map((message) => message.id)));
  }

  /**
   * The writer records the devices it reached right after its posts. A fan-out that runs first (the
   * local poller, or an early AWS poll) waits for the record, this conversation only, rather than
   * posting to every device again; past `recordWaitMs` from the commit the writer is presumed dead.
   */
  private async awaitDirectRecords(messages: readonly StoredMessage[], batch: BatchState): Promise<void> {
    if (!this.direct) return;
    let missing = messages.filter((message) => message.directDelivery && !batch.hasDirectRecord(message.id));
    if (missing.length === 0) return;
    const youngest = Math.max(...missing.map((message) => Date.parse(message.createdAt)));
    const deadline = Date.now() + this.direct.recordWaitMs - Math.max(0, this.clock.now().getTime() - youngest);
    for (let pauseMs = 20; missing.length > 0 && Date.now() < deadline; pauseMs = Math.min(pauseMs * 2, 500)) {
      await sleep(Math.min(pauseMs, deadline - Date.now()));
      const found = await this.direct.records.reached(missing.map((message) => message.id));
      for (const [messageId, devices] of found) batch.addDirectRecord(messageId, devices);
      missing = missing.filter((message) => !found.has(message.id));
    }
    if (missing.length > 0) {
      this.logger.info('no direct delivery record: serving every device', {
        conversationId: missing[0]?.conversationId,
        messages: missing.length,
      });
    }
  }

  private async deliverOne(
    message: StoredMessage,
    members: readonly Member[],
    batch: BatchState,
    index: number,
  ): Promise<void> {
    // A void (a seq no message took: an abandoned ticket, a refused retry) goes out like a message, so
    // no device meets a gap at its seq; only texts are pushed.
    const frame = { type: 'message', message: toWireMessage(message) } as const;
    const reaches = await batch.reachesOf(recipientsAt(message, members));
    const reachedDirectly = batch.reachedDirectly(message.id);
    const toPark: Device[] = [];
    let posted = 0;
    let stale = 0;

    await Promise.all(
      reaches.flatMap((reach) =>
        reach.devices
          .filter((device) => !isSendingDevice(message, device))
          .filter((device) => {
            const skip = reachedDirectly.has(deviceKey(device.userId, device.deviceId));
            if (skip) batch.directlyReached++;
            return !skip;
          })
          .map(async (device) => {
            const live = reach.connections.filter((connection) => connection.deviceId === device.deviceId);
            const outcomes = await Promise.all(
              live.map((connection) => batch.postLimit(() => this.poster.post(connection.connectionId, frame))),
            );
            let reached = false;
            for (const [i, outcome] of outcomes.entries()) {
              if (outcome === 'sent') {
                reached = true;
                posted++;
                batch.posted++;
              } else {
                stale++;
                await this.forgetConnection(live[i] as Connection, batch);
              }
            }
            if (!reached) toPark.push(device);
          }),
      ),
    );

    const pointersWritten = await this.inbox.park(
      message,
      toPark,
      epochSeconds(this.clock.now()),
      batch.pointedDevices(message.conversationId),
    );
    batch.noteParked(toPark, message, index, pointersWritten);
    // One line per message and stage: how an operator follows a message (docs/operations.md).
    this.logger.info('message fanned out', {
      ...correlationFields(correlationIdOf(message)),
      conversationId: message.conversationId,
      seq: message.seq,
      posted,
      parked: toPark.length,
      staleConnections: stale,
    });
  }

  /**
   * Closes the race between a device's reconnect and this batch: the batch read a user's connections
   * once (maybe before the device's `$connect`), and the device's `sync` may have read its inbox before
   * the park landed. `$connect` writes the connection row before `sync` reads the inbox, and this
   * reads the rows again after the parks, so one of the two always sees the other: a connection that
   * appeared meanwhile gets the parked messages posted, in order. Only users with a device whose
   * pointer this batch wrote: where park's strong read found the pointer, it existed after the commit,
   * so a sync that read the inbox after the commit followed it (strongly) to this message, and one
   * before the commit came after `$connect` wrote the row this batch's first read then saw; a pointer
   * an earlier batch of the conversation wrote after the sync had its own re-read before this batch
   * began. One BatchGetItem per batch for those users (a Query for each whose reach item is
   * incomplete). Answers the batch indexes to retry (a user whose re-read or posts failed).
   */
  private async reachLateConnections(batch: BatchState): Promise<number[]> {
    const retry: number[] = [];
    const newlyOwed = [...batch.parkedByUser()].filter(([userId]) => batch.gotNewPointer(userId));
    if (newlyOwed.length === 0) return retry;
    // Read again, all at once: one BatchGetItem for the users with complete reach items.
    const reread = batch.freshReaches(newlyOwed.map(([userId]) => userId));
    reread.catch(() => undefined);
    await Promise.all(
      newlyOwed.map(async ([userId, parkedByDevice]) => {
        try {
          const known = new Set((await batch.reachOf(userId)).connections.map((c) => c.connectionId));
          const { connections } = await reachIn(await reread, userId);
          for (const connection of connections) {
            const parked = parkedByDevice.get(connection.deviceId);
            if (known.has(connection.connectionId) || batch.isGone(connection) || parked === undefined) continue;
            for (const { message } of parked) {
              const frame = { type: 'message', message: toWireMessage(message) } as const;
              const outcome = await batch.postLimit(() => this.poster.post(connection.connectionId, frame));
              if (outcome !== 'sent') {
                // Gone again: the inbox holds the messages for its next sync.
                await this.forgetConnection(connection, batch);
                break;
              }
              batch.posted++;
              batch.lateReached++;
              batch.noteReachedLate(userId, connection.deviceId);
            }
          }
        } catch (error) {
          const indexes = [...parkedByDevice.values()].flat().map((entry) => entry.index);
          this.logger.warn('fan-out re-check failed', { userId, error: String(error) });
          retry.push(Math.min(...indexes));
        }
      }),
    );
    if (batch.lateReached > 0) this.logger.info('reached late connections', { posts: batch.lateReached });
    return retry;
  }

  /**
   * A 410 means this connection is gone: drop its cache entry and its row. A row younger than the
   * handshake grace stays: its `$connect` may not have finished, and deleting it would leave the
   * socket that then opens without a row, unreachable until it reconnects. When it was the user's last
   * live device, this stands in for the `$disconnect` that never came: `lastSeenAt` is now, and the
   * user's presence watchers hear they went offline (only on this path, never per message).
   */
  private async forgetConnection(connection: Connection, batch: BatchState): Promise<void> {
    batch.stale++;
    batch.dropConnection(connection);
    const now = this.clock.now();
    const graceEndsAt = Date.parse(connection.connectedAt ?? '') + limits.connectionHandshakeGraceSeconds * 1000;
    if (graceEndsAt > now.getTime()) return;
    const { wentOffline } = await this.connections.delete(
      connection.userId,
      connection.connectionId,
      connection.deviceId,
      now,
    );
    if (wentOffline) await this.presence?.announce(connection.userId, false, now);
  }
}

/** Per-invocation caches: what one stream batch learns about members, devices and connections. */
class BatchState {
  readonly postLimit = pLimit(limits.postConcurrency);
  posted = 0;
  directlyReached = 0;
  parked = 0;
  stale = 0;
  /** Posts to connections that appeared while the batch ran (see reachLateConnections). */
  lateReached = 0;
  /** Devices (`userId#deviceId`) a late connection got their parked messages on: no push for them. */
  private readonly reachedLate = new Set<string>();

  noteReachedLate(userId: string, deviceId: string): void {
    this.reachedLate.add(deviceKey(userId, deviceId));
  }

  wasReachedLate(userId: string, deviceId: string): boolean {
    return this.reachedLate.has(deviceKey(userId, deviceId));
  }

  /** Per conversation, the devices (`inboxKeys.device`) whose inbox pointer this batch read or wrote. */
  private readonly pointed = new Map<string, Set<string>>();

  pointedDevices(conversationId: string): ReadonlySet<string> {
    return this.pointed.get(conversationId) ?? new Set();
  }

  /** Parked messages by user and device, in the order they were parked (stream order per conversation). */
  private readonly parkedMessages = new Map<string, Map<string, { message: StoredMessage; index: number }[]>>();
  private readonly members = new Map<string, Promise<Member[]>>();
  private readonly reaches = new Map<string, Promise<Reach>>();

  /** Per message, the devices (`userId#deviceId`) the writer's record says it reached directly. */
  private readonly direct = new Map<string, ReadonlySet<string>>();

  constructor(
    private readonly connections: ConnectionRepository,
    private readonly loadMembers: (conversationId: string) => Promise<Member[]>,
    private readonly nowEpochSeconds: () => number,
  ) {}

  /** Devices (`userId#deviceId`) the writer reached directly with this message. */
  reachedDirectly(messageId: string): ReadonlySet<string> {
    return this.direct.get(messageId) ?? noDevices;
  }

  hasDirectRecord(messageId: string): boolean {
    return this.direct.has(messageId);
  }

  addDirectRecord(messageId: string, devices: ReadonlySet<string>): void {
    this.direct.set(messageId, devices);
  }

  /** Users with a device whose inbox pointer this batch wrote (see reachLateConnections). */
  private readonly newPointerUsers = new Set<string>();

  gotNewPointer(userId: string): boolean {
    return this.newPointerUsers.has(userId);
  }

  /** `pointersWritten`: the devices (`inboxKeys.device`) whose pointer the park wrote, not found. */
  noteParked(
    devices: readonly Device[],
    message: StoredMessage,
    index: number,
    pointersWritten: ReadonlySet<string>,
  ): void {
    this.parked += devices.length;
    const pointed = this.pointed.get(message.conversationId) ?? new Set<string>();
    this.pointed.set(message.conversationId, pointed);
    for (const device of devices) {
      pointed.add(deviceKey(device.userId, device.deviceId));
      if (pointersWritten.has(deviceKey(device.userId, device.deviceId))) this.newPointerUsers.add(device.userId);
      const byDevice = this.parkedMessages.get(device.userId) ?? new Map();
      this.parkedMessages.set(device.userId, byDevice);
      const parked = byDevice.get(device.deviceId) ?? [];
      byDevice.set(device.deviceId, parked);
      parked.push({ message, index });
    }
  }

  parkedByUser(): ReadonlyMap<string, ReadonlyMap<string, readonly { message: StoredMessage; index: number }[]>> {
    return this.parkedMessages;
  }

  /** A conversation's member rows, past ones included, read once per batch (a failed read is tried again). */
  membersOf(conversationId: string): Promise<Member[]> {
    return memoize(this.members, conversationId, () => this.loadMembers(conversationId));
  }

  /** A recipient's reach, read once per batch (see {@link reachesOf}). */
  reachOf(userId: string): Promise<Reach> {
    return memoize(this.reaches, userId, async () => reachIn(await this.freshReaches([userId]), userId));
  }

  /**
   * The reach of each recipient, read once per batch: every recipient not read yet in one strongly
   * consistent BatchGetItem of reach items, by Query those without a complete one.
   */
  reachesOf(userIds: readonly string[]): Promise<Reach[]> {
    const unread = [...new Set(userIds)].filter((userId) => !this.reaches.has(userId));
    if (unread.length > 0) {
      const read = this.freshReaches(unread);
      for (const userId of unread) {
        memoize(this.reaches, userId, async () => reachIn(await read, userId));
      }
    }
    return Promise.all(userIds.map((userId) => this.reachOf(userId)));
  }

  /** Reads the users' reach now, bypassing the batch's cache. */
  async freshReaches(userIds: readonly string[]): Promise<Map<string, Promise<Reach>>> {
    if (userIds.length === 0) return new Map();
    const items = await this.connections.readReach(userIds, this.nowEpochSeconds());
    return new Map(
      [...items].map(([userId, reach]) => {
        const read = reach ? Promise.resolve(reach) : this.queryReach(userId);
        // Whoever needs this user awaits it; one nobody needs must not fail the process.
        read.catch(() => undefined);
        return [userId, read];
      }),
    );
  }

  private async queryReach(userId: string): Promise<Reach> {
    const { devices, connections, pushSubscriptions } = await this.connections.listDevicesAndConnections(userId);
    // A member who never connected: once marked, later batches read them in the BatchGetItem. Best
    // effort: a failed mark only leaves this Query for the next batch too.
    if (devices.length === 0 && connections.length === 0) {
      await this.connections.markReachEmpty(userId).catch(() => undefined);
    }
    // A connection whose device row is missing still names a device that must be served.
    const known = new Set(devices.map((device) => device.deviceId));
    const extra = connections
      .filter((connection) => !known.has(connection.deviceId))
      .map((connection) => ({ userId, deviceId: connection.deviceId }));
    return {
      devices: [...devices, ...dedupeDevices(extra)],
      connections,
      ...(pushSubscriptions ? { pushSubscriptions } : {}),
    };
  }

  /** Connections this batch found gone (410), whether or not their rows were deleted. */
  private readonly gone = new Set<string>();

  isGone(connection: Connection): boolean {
    return this.gone.has(connection.connectionId);
  }

  dropConnection(gone: Connection): void {
    this.gone.add(gone.connectionId);
    const cached = this.reaches.get(gone.userId);
    if (!cached) return;
    this.reaches.set(
      gone.userId,
      cached.then((reach) => ({
        ...reach,
        connections: reach.connections.filter((connection) => connection.connectionId !== gone.connectionId),
      })),
    );
  }
}

const noDevices: ReadonlySet<string> = new Set();

function memoize<T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
  let pending = cache.get(key);
  if (!pending) {
    pending = load();
    // A failed read must not poison the rest of the batch.
    pending.catch(() => cache.delete(key));
    cache.set(key, pending);
  }
  return pending;
}

function reachIn(reaches: ReadonlyMap<string, Promise<Reach>>, userId: string): Promise<Reach> {
  const reach = reaches.get(userId);
  if (!reach) throw new Error(`no reach read for user ${userId}`);
  return reach;
}

function dedupeDevices(devices: Device[]): Device[] {
  return [...new Map(devices.map((device) => [device.deviceId, device])).values()];
}
