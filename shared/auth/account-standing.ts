import type { Clock } from '../clock';
import { limits } from '../config/limits';
import { BadRequestError, UnauthorizedError } from '../errors';
import type { AccountStandingRepository, ParticipantStanding } from '../repositories/account-standing-repository';

/** Whether a user may open a connection for a device. */
export type ConnectStanding =
  | { readonly kind: 'allowed' }
  /** The profile is a tombstone: the account was deleted, its unexpired tokens no longer count. */
  | { readonly kind: 'deleted' }
  /** A new device while `maxDevicesPerUser` others were active within the activity window. */
  | { readonly kind: 'deviceLimit'; readonly activeDevices: number };

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * What a valid token cannot tell: whether its user still exists (tombstones of deleted accounts)
 * and how many devices they already have. Reads the users table only; every read is strongly
 * consistent, so a deletion is honoured as soon as `DELETE /users/{id}` has answered.
 */
export class AccountStanding {
  constructor(
    private readonly accounts: AccountStandingRepository,
    private readonly clock: Clock,
  ) {}

  async forConnect(userId: string, deviceId: string): Promise<ConnectStanding> {
    const { deleted, devices } = await this.accounts.connectRecord(userId);
    if (deleted) return { kind: 'deleted' };
    // A device already known reconnects whatever the count: the limit only stops new ones.
    if (devices.some((device) => device.deviceId === deviceId)) return { kind: 'allowed' };
    const activeSince = new Date(this.clock.now().getTime() - limits.deviceActivityWindowDays * DAY_MS).toISOString();
    const activeDevices = devices.filter((device) => (device.lastConnectedAt ?? '') >= activeSince).length;
    return activeDevices >= limits.maxDevicesPerUser ? { kind: 'deviceLimit', activeDevices } : { kind: 'allowed' };
  }

  /** Refuses a caller whose account was deleted (401: the token outlived its user). */
  async refuseDeletedCaller(userId: string): Promise<void> {
    if (await this.accounts.isDeleted(userId)) throw deletedCaller();
  }

  /**
   * Before a membership change: a deleted caller gets 401, a deleted user named as a member 400.
   * A deleted account has left every conversation; this keeps anyone from adding it back.
   */
  async refuseDeletedParticipants(callerId: string, memberIds: readonly string[]): Promise<void> {
    await this.participants(callerId, memberIds);
  }

  /**
   * The same check, answering what it read of the users named (their group-add setting among it), so
   * the consent check that follows reads no profile again.
   */
  async participants(
    callerId: string,
    memberIds: readonly string[],
  ): Promise<ReadonlyMap<string, ParticipantStanding>> {
    const standings = await this.accounts.participantsAmong([...new Set([callerId, ...memberIds])]);
    if (standings.get(callerId)?.deleted) throw deletedCaller();
    const deletedMembers = memberIds.filter((id) => standings.get(id)?.deleted);
    if (deletedMembers.length > 0) {
      throw new BadRequestError('Deleted users cannot join a conversation', { userIds: [...new Set(deletedMembers)] });
    }
    return standings;
  }
}

const deletedCaller = () => new UnauthorizedError('This account has been deleted');
