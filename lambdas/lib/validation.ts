// zod/mini's parse function takes classic and mini schemas alike (one core) and bundles none of classic zod.
import { type core, safeParse } from 'zod/mini';
import { BadRequestError } from '#shared/errors';

type Issue = core.$ZodIssue;

/** Issues named in one error: enough to fix a request, bounded however many a hostile input produces. */
const maxIssuesNamed = 10;
/** Names a client chose (unknown keys) are echoed only when short and plain; others would reflect arbitrary text. */
const plainName = /^[A-Za-z0-9_.-]{1,40}$/;

function nameOf(key: PropertyKey): string {
  if (typeof key === 'number') return String(key);
  return typeof key === 'string' && plainName.test(key) ? key : '(unnamed)';
}

function listed(items: readonly string[], separator: string): string {
  const shown = items.slice(0, maxIssuesNamed).join(separator);
  return items.length > maxIssuesNamed ? `${shown} (and ${items.length - maxIssuesNamed} more)` : shown;
}

function messageOf(issue: Issue): string {
  if (issue.code !== 'unrecognized_keys') return issue.message;
  const names = listed(
    issue.keys.map((key) => `"${nameOf(key)}"`),
    ', ',
  );
  return `unknown ${issue.keys.length === 1 ? 'field' : 'fields'} ${names}`;
}

function describeIssue(issue: Issue): string {
  const field = issue.path.map(nameOf).join('.');
  return field ? `${field}: ${messageOf(issue)}` : messageOf(issue);
}

/** Validates untrusted input; the error names each bad field but never echoes values (or odd key names) back. */
export function parseWith<Schema extends core.$ZodType>(
  schema: Schema,
  input: unknown,
  what: string,
): core.output<Schema> {
  const result = safeParse(schema, input);
  if (result.success) return result.data;
  throw new BadRequestError(`Invalid ${what}: ${listed(result.error.issues.map(describeIssue), '; ')}`);
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
