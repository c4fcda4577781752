import { setTimeout as sleep } from 'node:timers/promises';
import type { S3Event, S3EventRecord } from 'aws-lambda';
import type { BucketTriggerSpec, FunctionName } from '#shared/config/functions';
import { localRegion } from '../aws-local';
import type { DeadLetterQueue } from '../dead-letters';
import type { LocalLogger } from '../log';
import { type ObjectOrigin, objectPath } from './object-origin';

/** How a notification reaches a function: the stack passes its Lambda runtime's invoke. */
export type NotificationInvoker = (functionName: FunctionName, event: S3Event) => Promise<unknown>;

export interface CreatedObject {
  readonly bucket: string;
  readonly key: string;
  readonly eventName: 'ObjectCreated:Put' | 'ObjectCreated:Copy' | 'ObjectCreated:CompleteMultipartUpload';
  readonly principalId: string;
  readonly sourceIp: string;
  readonly requestId: string;
  readonly hostId: string;
}

export interface NotifierSettings {
  readonly origin: ObjectOrigin;
  readonly bucket: string;
  readonly bucketArn: string;
  readonly triggers: readonly BucketTriggerSpec[];
  readonly retryDelayMs: number;
  readonly invoke: NotificationInvoker;
  readonly deadLetters: DeadLetterQueue | undefined;
  readonly logger: LocalLogger;
}

export interface Notifier {
  /** S3 notifies after the object exists and never holds up the PUT for it. */
  notify(created: CreatedObject): void;
  /** Resolves once every notification sent so far was delivered or given up on. */
  settled(): Promise<void>;
  /** Sends no new notifications and drops those waiting for a retry. */
  stop(): void;
}

/** Lambda's asynchronous invocation: the first attempt and two retries. */
const notificationAttempts = 3;
const fakeOwnerId = 'A1LOCALPARLEYOWNER';

export function createNotifier(settings: NotifierSettings): Notifier {
  const { origin, bucket, bucketArn, logger } = settings;
  const stopping = new AbortController();
  const inFlight = new Set<Promise<void>>();
  let sequence = 0;

  const deliver = async (trigger: BucketTriggerSpec, created: CreatedObject): Promise<void> => {
    const head = await origin.request('HEAD', objectPath(bucket, created.key));
    head.resume();
    if (head.statusCode !== 200) {
      logger.warn('object gone before its S3 notification was sent', { key: created.key, status: head.statusCode });
      return;
    }
    sequence = (sequence + 1) % 0x10000;
    const record = s3EventRecord({
      bucket,
      bucketArn,
      configurationId: `parley-local-${trigger.function}`,
      created,
      size: Number(head.headers['content-length'] ?? 0),
      eTag: String(head.headers.etag ?? '').replaceAll('"', ''),
      sequencer: `${Date.now().toString(16).toUpperCase().padStart(12, '0')}${sequence.toString(16).toUpperCase().padStart(4, '0')}`,
    });
    const event: S3Event = { Records: [record] };
    let lastError: unknown;
    for (let attempt = 1; attempt <= notificationAttempts; attempt += 1) {
      try {
        await settings.invoke(trigger.function, event);
        return;
      } catch (error) {
        lastError = error;
        if (attempt === notificationAttempts) break;
        logger.warn('S3 notification failed; Lambda retries it', {
          function: trigger.function,
          key: created.key,
          attempt,
        });
        const retried = await sleep(settings.retryDelayMs * attempt, true, { signal: stopping.signal }).catch(
          () => false,
        );
        if (!retried) {
          logger.warn('S3 notification dropped: the stack is stopping', {
            function: trigger.function,
            key: created.key,
          });
          return;
        }
      }
    }
    logger.error('S3 notification failed after every retry', {
      function: trigger.function,
      key: created.key,
      attempts: notificationAttempts,
      error: lastError,
    });
    settings.deadLetters?.add({
      source: 's3',
      function: trigger.function,
      condition: 'RetriesExhausted',
      attempts: notificationAttempts,
      lastError: lastError instanceof Error ? lastError.message : String(lastError),
      record,
      at: new Date().toISOString(),
    });
  };

  return {
    notify(created) {
      // Notifications are configured on the media bucket only.
      if (stopping.signal.aborted || created.bucket !== bucket) return;
      const trigger = settings.triggers.find((candidate) => created.key.startsWith(candidate.prefix));
      if (trigger === undefined) return;
      const delivery = deliver(trigger, created).catch((error: unknown) =>
        logger.error('S3 notification could not be sent', { key: created.key, error }),
      );
      inFlight.add(delivery);
      void delivery.finally(() => inFlight.delete(delivery));
    },
    async settled() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    stop() {
      stopping.abort();
    },
  };
}

interface EventRecordSettings {
  readonly bucket: string;
  readonly bucketArn: string;
  readonly configurationId: string;
  readonly created: CreatedObject;
  readonly size: number;
  readonly eTag: string;
  readonly sequencer: string;
}

function s3EventRecord(settings: EventRecordSettings): S3EventRecord {
  const { created } = settings;
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: localRegion,
    eventTime: new Date().toISOString(),
    eventName: created.eventName,
    userIdentity: { principalId: created.principalId },
    requestParameters: { sourceIPAddress: created.sourceIp },
    responseElements: { 'x-amz-request-id': created.requestId, 'x-amz-id-2': created.hostId },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: settings.configurationId,
      bucket: { name: settings.bucket, ownerIdentity: { principalId: fakeOwnerId }, arn: settings.bucketArn },
      object: { key: s3EventKey(created.key), size: settings.size, eTag: settings.eTag, sequencer: settings.sequencer },
    },
  };
}

/** Keys in S3 notifications are form-encoded (spaces as '+', as Java's URLEncoder does), slashes kept. */
export function s3EventKey(key: string): string {
  return encodeURIComponent(key)
    .replace(/[!'()~]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`)
    .replaceAll('%20', '+')
    .replaceAll('%2F', '/');
}
