import { createHash } from 'node:crypto';
import webPush from 'web-push';
import { isAllowedPushEndpoint, push } from '../config/push';
import type { Device, PushSubscription } from '../model';
import type { PushSubscriptionRepository } from '../repositories/push-subscription-repository';
import type { UserProfile } from '../repositories/user-repository';
import { type PushJob, previewOf } from './push-job';
import { deletedUserName } from './user-service';

/** What a device's service worker receives, decrypted: small, whatever the push service. */
export interface PushPayload {
  readonly type: 'message';
  readonly conversationId: string;
  readonly seq: number;
  readonly senderName: string;
  /** Absent when the recipient turned previews off (`pushPreview`), or the message has no text. */
  readonly preview?: string;
}

export interface VapidKeys {
  readonly publicKey: string;
  readonly privateKey: string;
}

/**
 * `gone`: 404/410, the subscription was removed. `refused`: another 4xx, not worth retrying (logged).
 * `unsubscribed`: the device's row no longer holds the job's subscription (removed or replaced since fan-out
 * read it, e.g. before a retry): nothing sent.
 */
export type PushOutcome = 'sent' | 'gone' | 'refused' | 'unsubscribed';

/** A push service answered 429 or 5xx, or did not answer in time: the invocation fails and Lambda retries it. */
export class RetryablePushError extends Error {
  constructor(readonly status: number | 'timeout' | 'network') {
    super(`push service answered ${status}; retried later`);
    this.name = 'RetryablePushError';
  }
}

export interface PushSenderLogger {
  info(message: string, details: Record<string, unknown>): void;
  warn(message: string, details: Record<string, unknown>): void;
}

/** The profiles a payload names and the device's subscription as it is now, in one read (UserRepository). */
export interface PushProfiles {
  profilesAndPushSubscription(
    userIds: readonly string[],
    device: Device,
  ): Promise<{ profiles: UserProfile[]; subscription: PushSubscription | undefined }>;
}

/** Sends one HTTP request to a push service; answers its status. */
export type PushTransport = (request: {
  readonly endpoint: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}) => Promise<number>;

/** `fetch` with a deadline: a push service that hangs must not hold the invocation to its timeout. */
export const fetchTransport: PushTransport = async ({ endpoint, headers, body }) => {
  try {
    const response = await fetch(endpoint, {
      method: 'POST',
      headers,
      // A copy on its own ArrayBuffer: a BodyInit under Node's and the DOM's types alike (a few hundred bytes).
      body: Uint8Array.from(body),
      redirect: 'error',
      signal: AbortSignal.timeout(push.sendTimeoutMs),
    });
    await response.body?.cancel();
    return response.status;
  } catch (error) {
    throw new RetryablePushError(error instanceof Error && error.name === 'TimeoutError' ? 'timeout' : 'network');
  }
};

/**
 * Encrypts (RFC 8291, aes128gcm) and signs (RFC 8292, VAPID) a push with web-push, and sends it.
 * Lines carry ids and statuses only, never the text or the endpoint (a capability URL).
 */
export class PushSender {
  constructor(
    private readonly profiles: PushProfiles,
    private readonly subscriptions: PushSubscriptionRepository,
    private readonly vapidKeys: () => Promise<VapidKeys>,
    private readonly transport: PushTransport,
    private readonly logger: PushSenderLogger,
    /** Origins accepted besides the known push services: the local stand-in's, never set on AWS. */
    private readonly extraOrigins: readonly string[] = [],
  ) {}

  async send(job: PushJob): Promise<PushOutcome> {
    const where = { userId: job.userId, deviceId: job.deviceId, conversationId: job.conversationId, seq: job.seq };
    // Checked at registration too; again here, so no stored value ever makes Parley call another URL.
    if (!isAllowedPushEndpoint(job.subscription.endpoint, this.extraOrigins)) {
      this.logger.warn('push endpoint not allowed; not sent', where);
      return 'refused';
    }
    const payload = await this.payloadOf(job);
    if (payload === undefined) {
      this.logger.info('push subscription removed or replaced since; not sent', where);
      return 'unsubscribed';
    }
    const keys = await this.vapidKeys();
    const request = webPush.generateRequestDetails(
      { endpoint: job.subscription.endpoint, keys: { p256dh: job.subscription.p256dh, auth: job.subscription.auth } },
      JSON.stringify(payload),
      {
        vapidDetails: { subject: push.vapidSubject, publicKey: keys.publicKey, privateKey: keys.privateKey },
        TTL: push.ttlSeconds,
        contentEncoding: 'aes128gcm',
        urgency: 'normal',
        // RFC 8030 topic: a push service replaces an undelivered push of the same device and conversation.
        topic: topicOf(job.conversationId),
      },
    );
    const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, String(value)]));
    const status = await this.transport({ endpoint: request.endpoint, headers, body: request.body });
    if (status >= 200 && status < 300) {
      this.logger.info('push sent', { ...where, status });
      return 'sent';
    }
    if (status === 404 || status === 410) {
      await this.subscriptions.removeGone({ userId: job.userId, deviceId: job.deviceId }, job.subscription.endpoint);
      this.logger.info('push subscription gone; removed', { ...where, status });
      return 'gone';
    }
    if (status === 429 || status >= 500) throw new RetryablePushError(status);
    this.logger.warn('push refused by the push service', { ...where, status });
    return 'refused';
  }

  /**
   * The payload, or undefined when the device's row no longer holds the job's subscription: an asynchronous
   * retry comes a minute or more after fan-out read it, and the device may have unsubscribed since. Read with
   * the profiles (one BatchGetItem); eventually consistent is enough at that distance.
   */
  private async payloadOf(job: PushJob): Promise<PushPayload | undefined> {
    const read = await this.profiles.profilesAndPushSubscription([job.senderId, job.userId], {
      userId: job.userId,
      deviceId: job.deviceId,
    });
    if (!sameSubscription(read.subscription, job.subscription)) return undefined;
    const profiles = new Map(read.profiles.map((profile) => [profile.id, profile]));
    const showsPreview = profiles.get(job.userId)?.pushPreview ?? true;
    const preview = previewOf(job.text);
    return {
      type: 'message',
      conversationId: job.conversationId,
      seq: job.seq,
      senderName: profiles.get(job.senderId)?.name ?? deletedUserName,
      ...(showsPreview && preview !== '' ? { preview } : {}),
    };
  }
}

/** A subscription renewed at the same endpoint comes with new keys: the old ones would encrypt for no one. */
function sameSubscription(stored: PushSubscription | undefined, job: PushSubscription): boolean {
  return stored?.endpoint === job.endpoint && stored.p256dh === job.p256dh && stored.auth === job.auth;
}

/** RFC 8030: a topic is at most 32 base64url characters; the conversation id's hash fits and says nothing. */
function topicOf(conversationId: string): string {
  return createHash('sha256').update(conversationId).digest('base64url').slice(0, 32);
}
