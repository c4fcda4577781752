import { AppError } from '../errors';
import type { ParticipantStanding } from '../repositories/account-standing-repository';
import type { DirectChatRepository } from '../repositories/direct-chat-repository';

/**
 * Who may be added to a group, by each user's `groupAdds` setting: `everyone`, only people they have
 * a direct chat with that they started or wrote in (`directChats`), or `nobody`. A refusal names the
 * users to the adder (`add_not_allowed`, 403) and nothing is written: the users refused get no event,
 * no conversation in their list, nothing at all.
 */
export class GroupAddConsent {
  constructor(private readonly directChats: DirectChatRepository) {}

  /**
   * Refuses the add when any of `joining` does not let `adderId` add them; `standings` is what the
   * deleted-account check already read of them (AccountStanding.participants).
   */
  async refuseUnwelcome(
    adderId: string,
    joining: readonly string[],
    standings: ReadonlyMap<string, ParticipantStanding>,
  ): Promise<void> {
    const others = [...new Set(joining)].filter((userId) => userId !== adderId);
    const settingOf = (userId: string) => standings.get(userId)?.groupAdds ?? 'everyone';
    const nobody = others.filter((userId) => settingOf(userId) === 'nobody');
    const directOnly = others.filter((userId) => settingOf(userId) === 'directChats');
    const acquainted = await this.directChats.takingPartWith(adderId, directOnly);
    const refused = others.filter(
      (userId) => nobody.includes(userId) || (directOnly.includes(userId) && !acquainted.has(userId)),
    );
    if (refused.length > 0) {
      throw new AppError('add_not_allowed', 'These users do not let you add them to groups', { userIds: refused });
    }
  }
}
