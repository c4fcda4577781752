import { createHash, randomBytes } from 'node:crypto';
import { type Clock, epochSeconds } from '../clock';
import { limits } from '../config/limits';
import type { ConnectTicketRepository } from '../repositories/connect-ticket-repository';

export interface IssuedConnectTicket {
  /** Goes in the `$connect` URL as `?ticket=`; opens one connection, once. */
  readonly ticket: string;
  /** Server time after which the ticket no longer opens anything. */
  readonly expiresAt: string;
}

/** base64url without padding: 4 characters per 3 bytes, rounded up. */
const ticketLength = Math.ceil((limits.connectTicketBytes * 4) / 3);

/** The exact shape of an issued ticket; anything else is refused without a read. */
export const connectTicketPattern = new RegExp(`^[A-Za-z0-9_-]{${ticketLength}}$`);

/** What the table keys a ticket by: a table dump or a logged key cannot be replayed as a ticket. */
export const hashConnectTicket = (ticket: string): string =>
  createHash('sha256').update(ticket, 'utf8').digest('base64url');

/**
 * Short-lived, single-use WebSocket connect tickets. A ticket is 256 random bits handed to a
 * caller who proved who they are with a JWT in a header, so no long-lived token goes in a URL.
 */
export class ConnectTicketStore {
  constructor(
    private readonly tickets: ConnectTicketRepository,
    private readonly clock: Clock,
  ) {}

  async issue(userId: string): Promise<IssuedConnectTicket> {
    const ticket = randomBytes(limits.connectTicketBytes).toString('base64url');
    const expiresAt = epochSeconds(this.clock.now()) + limits.connectTicketTtlSeconds;
    await this.tickets.put(hashConnectTicket(ticket), userId, expiresAt);
    return { ticket, expiresAt: new Date(expiresAt * 1000).toISOString() };
  }

  /**
   * The ticket's user, exactly once (taking it deletes it). Undefined when the ticket is
   * malformed, unknown, already used or expired.
   */
  async consume(ticket: string): Promise<string | undefined> {
    if (!connectTicketPattern.test(ticket)) return undefined;
    return this.tickets.take(hashConnectTicket(ticket), epochSeconds(this.clock.now()));
  }
}
