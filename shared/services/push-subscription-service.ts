import type { Clock } from '../clock';
import { isAllowedPushEndpoint } from '../config/push';
import { AppError, NotFoundError } from '../errors';
import type { PushSubscription } from '../model';
import type { PushSubscriptionRepository } from '../repositories/push-subscription-repository';

/** A device's Web Push subscription: registered and removed by its owner, for their own devices only. */
export class PushSubscriptionService {
  constructor(
    private readonly subscriptions: PushSubscriptionRepository,
    private readonly clock: Clock,
    /** Origins accepted besides the known push services: the local stand-in's, never set on AWS. */
    private readonly extraOrigins: readonly string[] = [],
  ) {}

  /** The device is the caller's (its row is in their partition) and the endpoint a known push service's. */
  async register(callerId: string, deviceId: string, subscription: PushSubscription): Promise<void> {
    if (!isAllowedPushEndpoint(subscription.endpoint, this.extraOrigins)) {
      throw new AppError('push_endpoint_not_allowed', 'The endpoint is not a known push service', {
        field: 'endpoint',
      });
    }
    const outcome = await this.subscriptions.register(
      { userId: callerId, deviceId },
      subscription,
      this.clock.now().toISOString(),
    );
    if (outcome === 'noDevice') throw unknownDevice();
  }

  async remove(callerId: string, deviceId: string): Promise<void> {
    if ((await this.subscriptions.remove({ userId: callerId, deviceId })) === 'noDevice') throw unknownDevice();
  }
}

const unknownDevice = () => new NotFoundError('No such device: it registers by connecting first');
