import { type Clock, epochSeconds } from '../clock';
import { limits } from '../config/limits';
import type { Connection } from '../model';
import type { ConnectionRepository } from '../repositories/connection-repository';
import type { DeviceRepository } from '../repositories/device-repository';

/** Tells a user's watchers of a change of presence (PresenceService.announce); never throws. */
export interface PresenceAnnouncer {
  announce(userId: string, online: boolean, at: Date): Promise<void>;
}

export class ConnectionService {
  constructor(
    private readonly devices: DeviceRepository,
    private readonly connections: ConnectionRepository,
    private readonly clock: Clock,
    private readonly presence?: PresenceAnnouncer,
  ) {}

  /**
   * Registers the device (first connect) and records the live connection, in parallel. The first
   * connect of a user whose reach item does not list every device yet copies the device rows into it.
   * A connect that brings the user online (no other device live) tells their presence watchers.
   */
  async connect(connection: Connection): Promise<void> {
    const now = this.clock.now();
    const [, { reachComplete, cameOnline }] = await Promise.all([
      this.devices.register({ userId: connection.userId, deviceId: connection.deviceId }, now.toISOString()),
      this.connections.put(connection, now.toISOString(), epochSeconds(now) + limits.connectionTtlSeconds),
    ]);
    await Promise.all([
      cameOnline ? this.presence?.announce(connection.userId, true, now) : undefined,
      reachComplete ? undefined : this.completeReach(connection.userId),
    ]);
  }

  /**
   * `$disconnect` is best effort on AWS; rows it misses are removed on the next 410 or by TTL. The same
   * write keeps the time as the user's `lastSeenAt`; the last device leaving tells their watchers.
   */
  async disconnect(connectionId: string, userId?: string, deviceId?: string): Promise<void> {
    const owner = userId ?? (await this.connections.findOwner(connectionId));
    if (owner === undefined) return;
    const now = this.clock.now();
    const { wentOffline } = await this.connections.delete(owner, connectionId, deviceId, now);
    if (wentOffline) await this.presence?.announce(owner, false, now);
  }

  private async completeReach(userId: string): Promise<void> {
    const devices = await this.devices.listForUser(userId);
    await this.connections.completeReach(
      userId,
      devices.map((device) => device.deviceId),
    );
  }
}
