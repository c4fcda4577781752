import { type Clock, epochSeconds } from '../clock';
import { limits } from '../config/limits';
import type { Connection } from '../model';
import type { ConnectionRepository } from '../repositories/connection-repository';
import type { DeviceRepository } from '../repositories/device-repository';

export class ConnectionService {
  constructor(
    private readonly devices: DeviceRepository,
    private readonly connections: ConnectionRepository,
    private readonly clock: Clock,
  ) {}

  /**
   * Registers the device (first connect) and records the live connection, in parallel. The first
   * connect of a user whose reach item does not list every device yet copies the device rows into it.
   */
  async connect(connection: Connection): Promise<void> {
    const now = this.clock.now();
    const [, { reachComplete }] = await Promise.all([
      this.devices.register({ userId: connection.userId, deviceId: connection.deviceId }, now.toISOString()),
      this.connections.put(connection, now.toISOString(), epochSeconds(now) + limits.connectionTtlSeconds),
    ]);
    if (reachComplete) return;
    const devices = await this.devices.listForUser(connection.userId);
    await this.connections.completeReach(
      connection.userId,
      devices.map((device) => device.deviceId),
    );
  }

  /** `$disconnect` is best effort on AWS; rows it misses are removed on the next 410 or by TTL. */
  async disconnect(connectionId: string, userId?: string): Promise<void> {
    const owner = userId ?? (await this.connections.findOwner(connectionId));
    if (owner !== undefined) await this.connections.delete(owner, connectionId);
  }
}
