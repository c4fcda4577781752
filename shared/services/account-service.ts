import type { ConnectionPoster } from '../aws/connection-poster';
import type { Clock } from '../clock';
import { ForbiddenError, NotFoundError } from '../errors';
import type { ConnectionRepository } from '../repositories/connection-repository';
import type { ConversationRepository } from '../repositories/conversation-repository';
import type { DeviceRepository } from '../repositories/device-repository';
import type { UserRepository } from '../repositories/user-repository';
import type { ConversationService } from './conversation-service';

/**
 * Deleting an account: the profile becomes a tombstone (old messages show "Deleted user"), every
 * membership is left through the timeline, live connections are closed, devices forgotten. Each
 * step is safe to repeat, so a retry after a partial failure finishes the job.
 */
export class AccountService {
  constructor(
    private readonly users: UserRepository,
    private readonly conversations: ConversationRepository,
    private readonly conversationService: ConversationService,
    private readonly devices: DeviceRepository,
    private readonly connections: ConnectionRepository,
    private readonly poster: ConnectionPoster,
    private readonly clock: Clock,
  ) {}

  async deleteAccount(callerId: string, userId: string): Promise<void> {
    if (callerId !== userId) throw new ForbiddenError('Only the user may delete their account');
    // First, so the account reads as deleted while the rest completes.
    await this.users.markDeleted(userId, this.clock.now().toISOString());
    for (const conversationId of await this.conversations.listConversationIdsOf(userId)) {
      await this.conversationService.leaveOnAccountDeletion(conversationId, userId).catch((error) => {
        // Already gone (a concurrent leave or a retry): nothing left to do for this one.
        if (!(error instanceof NotFoundError)) throw error;
      });
    }
    const live = await this.connections.listForUser(userId);
    await Promise.all(
      live.map(async (connection) => {
        await this.poster.disconnect(connection.connectionId);
        await this.connections.delete(userId, connection.connectionId, connection.deviceId);
      }),
    );
    await this.devices.remove(await this.devices.listForUser(userId));
    await this.connections.deleteReach(userId);
  }
}
