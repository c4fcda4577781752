import type { z } from 'zod';
import { BadRequestError } from '#shared/errors';

/** Validates untrusted input; the error names each bad field but never echoes values back. */
export function parseWith<Schema extends z.ZodType>(schema: Schema, input: unknown, what: string): z.infer<Schema> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const field = issue.path.map(String).join('.');
    return field ? `${field}: ${issue.message}` : issue.message;
  });
  throw new BadRequestError(`Invalid ${what}: ${problems.join('; ')}`);
}

/** JSON.parse that answers bad_request instead of throwing a SyntaxError. */
export function parseJson(body: string | undefined | null, what: string): unknown {
  if (body === undefined || body === null || body === '') throw new BadRequestError(`Missing ${what}`);
  try {
    return JSON.parse(body);
  } catch {
    throw new BadRequestError(`${what} is not valid JSON`);
  }
}
