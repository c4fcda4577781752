import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { userKeys } from '../keys';
import type { Device, PushSubscription } from '../model';
import { REACH_PUSH_PREFIX } from './connection-repository';

export type PushSubscriptionOutcome = 'done' | 'noDevice';

/**
 * A device's Web Push subscription lives on its device row (`pushSubscription`, what it belongs to)
 * and, copied, on the user's reach item (`push#<deviceId>`), which fan-out already reads for every
 * recipient in one BatchGetItem: pushing costs fan-out no read. Both change in one transaction.
 */
export class PushSubscriptionRepository {
  constructor(
    private readonly documentClient: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Sets (or replaces) the subscription; `noDevice` when the user has no such device row. */
  async register(
    device: Device,
    subscription: PushSubscription,
    registeredAt: string,
  ): Promise<PushSubscriptionOutcome> {
    const stored = { ...subscription, registeredAt };
    return this.onDeviceAndReach(device, {
      device: { UpdateExpression: 'SET pushSubscription = :subscription', values: { ':subscription': stored } },
      reach: { UpdateExpression: 'SET #push = :subscription', values: { ':subscription': stored } },
    });
  }

  /** Removes the subscription, if any; `noDevice` when the user has no such device row. */
  async remove(device: Device): Promise<PushSubscriptionOutcome> {
    return this.onDeviceAndReach(device, {
      device: { UpdateExpression: 'REMOVE pushSubscription' },
      reach: { UpdateExpression: 'REMOVE #push' },
    });
  }

  /**
   * Removes the subscription only while it still names `endpoint` (the push service said 404/410 for
   * it): a device that subscribed again meanwhile keeps its new one. Each item on its own condition.
   */
  async removeGone(device: Device, endpoint: string): Promise<void> {
    const removals = [
      { Key: userKeys.device(device.userId, device.deviceId), attribute: 'pushSubscription' },
      { Key: userKeys.reach(device.userId), attribute: `${REACH_PUSH_PREFIX}${device.deviceId}` },
    ];
    await Promise.all(
      removals.map(async ({ Key, attribute }) => {
        try {
          await this.documentClient.send(
            new UpdateCommand({
              TableName: this.tableName,
              Key,
              UpdateExpression: 'REMOVE #push',
              ConditionExpression: '#push.endpoint = :endpoint',
              ExpressionAttributeNames: { '#push': attribute },
              ExpressionAttributeValues: { ':endpoint': endpoint },
            }),
          );
        } catch (error) {
          if (!(error instanceof ConditionalCheckFailedException)) throw error;
        }
      }),
    );
  }

  private async onDeviceAndReach(
    device: Device,
    updates: {
      readonly device: { readonly UpdateExpression: string; readonly values?: Record<string, unknown> };
      readonly reach: { readonly UpdateExpression: string; readonly values?: Record<string, unknown> };
    },
  ): Promise<PushSubscriptionOutcome> {
    try {
      await this.documentClient.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tableName,
                Key: userKeys.device(device.userId, device.deviceId),
                UpdateExpression: updates.device.UpdateExpression,
                // The row is in the caller's own partition: it exists only for a device of theirs.
                ConditionExpression: 'attribute_exists(pk)',
                ...(updates.device.values ? { ExpressionAttributeValues: updates.device.values } : {}),
              },
            },
            {
              // Creates the reach item if missing; without `complete`, fan-out then reads the device rows instead.
              Update: {
                TableName: this.tableName,
                Key: userKeys.reach(device.userId),
                UpdateExpression: updates.reach.UpdateExpression,
                ExpressionAttributeNames: { '#push': `${REACH_PUSH_PREFIX}${device.deviceId}` },
                ...(updates.reach.values ? { ExpressionAttributeValues: updates.reach.values } : {}),
              },
            },
          ],
        }),
      );
      return 'done';
    } catch (error) {
      if (
        error instanceof TransactionCanceledException &&
        error.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed'
      ) {
        return 'noDevice';
      }
      throw error;
    }
  }
}
