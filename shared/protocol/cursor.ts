import { type core, parse } from 'zod/mini';
import { BadRequestError } from '../errors';

/**
 * Opaque paging cursors: base64url JSON, validated on the way back in, so a forged or mangled
 * cursor answers bad_request instead of reaching a query.
 */
export function cursorCodec<Schema extends core.$ZodType>(schema: Schema) {
  return {
    encode: (content: core.output<Schema>): string =>
      Buffer.from(JSON.stringify(content), 'utf8').toString('base64url'),
    decode(cursor: string): core.output<Schema> {
      try {
        return parse(schema, JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
      } catch {
        throw new BadRequestError('Invalid cursor');
      }
    },
  };
}
