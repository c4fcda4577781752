import { createHash, randomBytes } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { limits } from '../config/limits';
import { type Clock, epochSeconds } from '../services/clock';

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
    private readonly documentClient: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly clock: Clock,
  ) {}

  async issue(userId: string): Promise<IssuedConnectTicket> {
    const ticket = randomBytes(limits.connectTicketBytes).toString('base64url');
    const expiresAt = epochSeconds(this.clock.now()) + limits.connectTicketTtlSeconds;
    await this.documentClient.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ticketHash: hashConnectTicket(ticket), userId, expiresAt },
      }),
    );
    return { ticket, expiresAt: new Date(expiresAt * 1000).toISOString() };
  }

  /**
   * The ticket's user, exactly once: one conditional DeleteItem takes the ticket and answers what
   * it held, so two handshakes racing with one ticket cannot both win. Undefined when the ticket
   * is malformed, unknown, already used or expired (TTL deletes late, so expiry is checked here).
   */
  async consume(ticket: string): Promise<string | undefined> {
    if (!connectTicketPattern.test(ticket)) return undefined;
    try {
      const result = await this.documentClient.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { ticketHash: hashConnectTicket(ticket) },
          ConditionExpression: 'expiresAt > :now',
          ExpressionAttributeValues: { ':now': epochSeconds(this.clock.now()) },
          ReturnValues: 'ALL_OLD',
        }),
      );
      const userId = result.Attributes?.userId;
      return typeof userId === 'string' && userId !== '' ? userId : undefined;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }
}
