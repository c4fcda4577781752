/**
 * Composition root for the security checks: connect tickets, account standing (tombstones, device
 * limit) and the send rate limit. Apart from wiring.ts so the authorizer bundles none of the chat services.
 */
import { AccountStanding } from '#shared/auth/account-standing';
import { ConnectTicketStore } from '#shared/auth/connect-tickets';
import { GroupAddConsent } from '#shared/auth/group-add-consent';
import { systemClock } from '#shared/clock';
import { tableNameFromEnv } from '#shared/config/env';
import { limits } from '#shared/config/limits';
import { AccountStandingRepository } from '#shared/repositories/account-standing-repository';
import { ConnectTicketRepository } from '#shared/repositories/connect-ticket-repository';
import { DirectChatRepository } from '#shared/repositories/direct-chat-repository';
import { RateCounterRepository } from '#shared/repositories/rate-counter-repository';
import {
  creationBurstCounterKey,
  creationCounterKey,
  SendRateLimiter,
  searchCounterKey,
} from '#shared/services/send-rate-limiter';
import { documentClient } from './dynamodb-client';

export const createConnectTicketStore = () =>
  new ConnectTicketStore(new ConnectTicketRepository(documentClient, tableNameFromEnv('connectTickets')), systemClock);

export const createAccountStanding = () =>
  new AccountStanding(new AccountStandingRepository(documentClient, tableNameFromEnv('users')), systemClock);

/** Consent to be added to a group: reads the direct chats of those who allow only people they chat with. */
export const createGroupAddConsent = () =>
  new GroupAddConsent(new DirectChatRepository(documentClient, tableNameFromEnv('conversations')));

export const createSendRateLimiter = () =>
  new SendRateLimiter(new RateCounterRepository(documentClient, tableNameFromEnv('rateLimits')), systemClock);

/** Conversations created per user per day, beside the timeline-write limit every creation also counts against. */
export const createConversationCreationLimiter = () =>
  new SendRateLimiter(
    new RateCounterRepository(documentClient, tableNameFromEnv('rateLimits')),
    systemClock,
    limits.conversationCreationLimit,
    { keyOf: creationCounterKey, noun: 'new conversations' },
  );

/** Conversations created per user per 10 minutes: a burst of creations stops here long before the daily cap. */
export const createConversationBurstLimiter = () =>
  new SendRateLimiter(
    new RateCounterRepository(documentClient, tableNameFromEnv('rateLimits')),
    systemClock,
    limits.conversationCreationBurst,
    { keyOf: creationBurstCounterKey, noun: 'new conversations' },
  );

/** Username searches per user: the same leased window counters as sends, under their own keys. */
export const createUserSearchRateLimiter = () => {
  const { windowSeconds, maxSearches, leaseSearches } = limits.userSearch;
  return new SendRateLimiter(
    new RateCounterRepository(documentClient, tableNameFromEnv('rateLimits')),
    systemClock,
    { windowSeconds, maxSends: maxSearches, leaseSends: leaseSearches },
    { keyOf: searchCounterKey, noun: 'searches' },
  );
};

/**
 * Parses a send: a malformed one is still charged (a flood is cut off at one write per frame), and a
 * refused charge (`rate_limited`) is the answer before any parse error. A charge already under way
 * runs beside the parse; one given as a function runs only for a malformed frame (a send whose
 * charge depends on what the frame holds).
 */
export async function parsedAfterCharge<T>(charge: Promise<void> | (() => Promise<void>), parse: () => T): Promise<T> {
  try {
    return parse();
  } catch (error) {
    await (typeof charge === 'function' ? charge() : charge);
    throw error;
  }
}
