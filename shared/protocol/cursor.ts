import type { z } from 'zod';
import { BadRequestError } from '../errors';

/**
 * Opaque paging cursors: base64url JSON, validated on the way back in, so a forged or mangled
 * cursor answers bad_request instead of reaching a query.
 */
export function cursorCodec<Schema extends z.ZodType>(schema: Schema) {
  return {
    encode: (content: z.infer<Schema>): string => Buffer.from(JSON.stringify(content), 'utf8').toString('base64url'),
    decode(cursor: string): z.infer<Schema> {
      try {
        return schema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
      } catch {
        throw new BadRequestError('Invalid cursor');
      }
    },
  };
}
