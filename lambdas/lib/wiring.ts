/**
 * Composition root for handlers: builds repositories and services from the environment. Each
 * factory reads only the tables its service uses, matching the function's grants in the catalog.
 */
import { createConnectionPoster } from '#shared/aws/connection-poster';
import { systemClock } from '#shared/clock';
import { envVars, requireEnv, tableNameFromEnv } from '#shared/config/env';
import { directRecordWaitMs } from '#shared/config/functions';
import { limits } from '#shared/config/limits';
import { push } from '#shared/config/push';
import { AttachmentRepository } from '#shared/repositories/attachment-repository';
import { ConnectionRepository } from '#shared/repositories/connection-repository';
import { ConversationRepository } from '#shared/repositories/conversation-repository';
import { DeviceRepository } from '#shared/repositories/device-repository';
import { DirectDeliveryRepository } from '#shared/repositories/direct-delivery-repository';
import { InboxRepository, owedTimeline } from '#shared/repositories/inbox-repository';
import { MessageReader, MessageRepository } from '#shared/repositories/message-repository';
import { PresenceWatcherRepository } from '#shared/repositories/presence-watcher-repository';
import { PushWindowRepository } from '#shared/repositories/push-window-repository';
import { RateCounterRepository } from '#shared/repositories/rate-counter-repository';
import { ReceiptRepository } from '#shared/repositories/receipt-repository';
import { UserRepository } from '#shared/repositories/user-repository';
import { AccountService } from '#shared/services/account-service';
import { SendableAttachments } from '#shared/services/attachment-service';
import { ConnectionService } from '#shared/services/connection-service';
import { ConversationListService } from '#shared/services/conversation-list-service';
import { ConversationService } from '#shared/services/conversation-service';
import { DirectDelivery, type DirectDeliverySettings } from '#shared/services/direct-delivery-service';
import { FanOutService, type PushDispatcher } from '#shared/services/fan-out-service';
import { HistoryService } from '#shared/services/history-service';
import { InboxService } from '#shared/services/inbox-service';
import { MessageChangeService } from '#shared/services/message-change-service';
import { MessagingService } from '#shared/services/messaging-service';
import { PresenceAnnouncements, PresenceService } from '#shared/services/presence-service';
import { ReceiptAnnouncer } from '#shared/services/receipt-announcer';
import { ReceiptService } from '#shared/services/receipt-service';
import { TimelineWriter } from '#shared/services/timeline-writer';
import { TypingService } from '#shared/services/typing-service';
import { UserService } from '#shared/services/user-service';
import { documentClient } from './dynamodb-client';
import { logger, tracer } from './observability';

const inboxRetentionSeconds = limits.inboxRetentionDays * 24 * 60 * 60;

const conversationRepository = () => new ConversationRepository(documentClient, tableNameFromEnv('conversations'));
const userRepository = () => new UserRepository(documentClient, tableNameFromEnv('users'));
// Connection rows live in the users table, beside the devices of their user.
const connectionRepository = () => new ConnectionRepository(documentClient, tableNameFromEnv('users'));
const deviceRepository = () => new DeviceRepository(documentClient, tableNameFromEnv('users'));
/** `replays`: the sync's, which follows pointers through the timeline (and is granted its tables). */
const inboxRepository = ({ replays = false } = {}) =>
  new InboxRepository(
    documentClient,
    { inbox: tableNameFromEnv('inbox'), conversations: tableNameFromEnv('conversations') },
    inboxRetentionSeconds,
    replays ? owedTimeline(messageReader(), conversationRepository()) : undefined,
  );
const connectionPoster = () =>
  createConnectionPoster(requireEnv(envVars.callbackUrl), (client) => tracer.captureAWSv3Client(client));

/**
 * Only senders of messages get the attachments table (a message may carry some) and the rate-limit
 * counters (a send may claim its lease in the commit), with their grants.
 */
const messageRepository = (forSenders: boolean) =>
  new MessageRepository(documentClient, {
    conversations: tableNameFromEnv('conversations'),
    messages: tableNameFromEnv('messages'),
    idempotency: tableNameFromEnv('idempotency'),
    ...(forSenders ? { attachments: tableNameFromEnv('attachments'), rateLimits: tableNameFromEnv('rateLimits') } : {}),
  });
const timelineWriter = (forSenders = false) => new TimelineWriter(messageRepository(forSenders), systemClock);

const attachmentRepository = () => new AttachmentRepository(documentClient, tableNameFromEnv('attachments'));

const directDeliveryRepository = () =>
  new DirectDeliveryRepository(documentClient, tableNameFromEnv('directDeliveries'));

/** `limits.directDelivery`, with the local stack's overrides (`--no-fast-path`, a test's post timeout) applied. */
export function directDeliverySettings(): DirectDeliverySettings {
  return {
    ...limits.directDelivery,
    maxMembers: wholeNumberFromEnv(envVars.directDeliveryMaxMembers) ?? limits.directDelivery.maxMembers,
    postTimeoutMs: wholeNumberFromEnv(envVars.directPostTimeoutMs) ?? limits.directDelivery.postTimeoutMs,
  };
}

function wholeNumberFromEnv(name: string): number | undefined {
  const value = process.env[name];
  if (value === undefined || value === '') return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) throw new Error(`${name} must be a whole number, not ${value}`);
  return number;
}

/** Every timeline entry of a small conversation is posted to its online devices by the writer itself. */
const directDelivery = () =>
  new DirectDelivery(
    conversationRepository(),
    connectionRepository(),
    directDeliveryRepository(),
    connectionPoster(),
    systemClock,
    logger,
    directDeliverySettings(),
  );

export const createMessagingService = () =>
  new MessagingService(
    conversationRepository(),
    timelineWriter(true),
    new SendableAttachments(attachmentRepository(), systemClock),
    directDelivery(),
  );

/** Edits, deletes and reactions: the send's writer (any send may commit them when they queue), and its fast path. */
export const createMessageChangeService = () =>
  new MessageChangeService(conversationRepository(), timelineWriter(true), systemClock, directDelivery());

/** `pushDispatcher` from push-dispatch.ts, passed in so that only fan-out bundles the Lambda client. */
export const createFanOutService = (pushDispatcher: PushDispatcher) =>
  new FanOutService(
    conversationRepository(),
    connectionRepository(),
    inboxRepository(),
    connectionPoster(),
    systemClock,
    logger,
    { records: directDeliveryRepository(), recordWaitMs: directRecordWaitMs },
    {
      windows: new PushWindowRepository(documentClient, tableNameFromEnv('rateLimits')),
      dispatcher: pushDispatcher,
      windowSeconds: push.coalesceWindowSeconds,
    },
    presenceAnnouncements(),
  );

export const createInboxService = ({ replays = false } = {}) =>
  new InboxService(inboxRepository({ replays }), connectionPoster(), logger);

const presenceWatcherRepository = () =>
  new PresenceWatcherRepository(documentClient, tableNameFromEnv('presenceWatchers'));

/** `readsReach`: a `showPresence` switched on tells the state as it is (a BatchGetItem of the reach item). */
const presenceAnnouncements = (readsReach = false) =>
  new PresenceAnnouncements(
    presenceWatcherRepository(),
    userRepository(),
    connectionPoster(),
    logger,
    readsReach ? connectionRepository() : undefined,
  );

/** Presence reads; `subscribing` adds the watchers table (`subscribePresence`), which the HTTP probe has no grant for. */
export const createPresenceService = (subscribing: boolean) =>
  new PresenceService(
    conversationRepository(),
    connectionRepository(),
    userRepository(),
    systemClock,
    subscribing ? presenceWatcherRepository() : undefined,
  );

/** $connect and $disconnect tell the user's presence watchers when the user comes online or goes offline. */
export const createConnectionService = () =>
  new ConnectionService(deviceRepository(), connectionRepository(), systemClock, presenceAnnouncements());

export const createTypingService = () =>
  new TypingService(
    conversationRepository(),
    connectionRepository(),
    new RateCounterRepository(documentClient, tableNameFromEnv('rateLimits')),
    connectionPoster(),
    systemClock,
  );

export const createConversationService = () =>
  new ConversationService(conversationRepository(), timelineWriter(), systemClock, directDelivery());

/** Reading a conversation writes nothing and posts nothing: no direct delivery, no callback URL. */
export const createConversationReads = () =>
  new ConversationService(conversationRepository(), timelineWriter(), systemClock);

export const createUserService = () =>
  new UserService(new UserRepository(documentClient, tableNameFromEnv('users')), systemClock);

/** `PUT /users/{id}`: a change of `showPresence` is told to the user's presence watchers. */
export const createProfileUpdates = () =>
  new UserService(
    new UserRepository(documentClient, tableNameFromEnv('users')),
    systemClock,
    presenceAnnouncements(true),
  );

/** History and listings only read messages: they get neither the grants nor the table names for writes. */
const messageReader = () => new MessageReader(documentClient, tableNameFromEnv('messages'));

export const createHistoryService = () => new HistoryService(conversationRepository(), messageReader());

export const createConversationListService = () =>
  new ConversationListService(conversationRepository(), messageReader());

export const createAccountService = () =>
  new AccountService(
    new UserRepository(documentClient, tableNameFromEnv('users')),
    conversationRepository(),
    createConversationService(),
    deviceRepository(),
    connectionRepository(),
    connectionPoster(),
    systemClock,
  );

/** Read lazily: only reads consult it, so `ack` (deliveries) needs only Query on the users table (connections), no GetItem. */
const readPrivacy = { sharesReads: (userId: string) => userRepository().sharesReads(userId) };

export const createReceiptAnnouncer = () =>
  new ReceiptAnnouncer(messageReader(), connectionRepository(), connectionPoster(), readPrivacy, systemClock);

export const createReceiptService = () =>
  new ReceiptService(
    conversationRepository(),
    new ReceiptRepository(documentClient, tableNameFromEnv('conversations'), tableNameFromEnv('receipts')),
    messageReader(),
    connectionRepository(),
    connectionPoster(),
    readPrivacy,
    systemClock,
  );
