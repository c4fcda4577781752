/**
 * Composition root for the security checks: connect tickets, account standing (tombstones, device
 * limit) and the send rate limit. Apart from wiring.ts so the authorizer bundles none of the chat services.
 */
import { AccountStanding } from '#shared/auth/account-standing';
import { ConnectTicketStore } from '#shared/auth/connect-tickets';
import { tableNameFromEnv } from '#shared/config/env';
import { systemClock } from '#shared/services/clock';
import { SendRateLimiter } from '#shared/services/send-rate-limiter';
import { documentClient } from './dynamodb-client';

export const createConnectTicketStore = () =>
  new ConnectTicketStore(documentClient, tableNameFromEnv('connectTickets'), systemClock);

export const createAccountStanding = () => new AccountStanding(documentClient, tableNameFromEnv('users'), systemClock);

export const createSendRateLimiter = () =>
  new SendRateLimiter(documentClient, tableNameFromEnv('rateLimits'), systemClock);
