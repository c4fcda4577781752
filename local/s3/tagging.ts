import type { IncomingMessage } from 'node:http';
import type { ObjectOrigin } from './object-origin';
import { headerValue, readReplyText } from './request-io';
import type { S3Target } from './request-target';
import type { S3Failure } from './s3-errors';
import { escapeXml, unescapeXml } from './xml-escape';

export interface Tag {
  readonly key: string;
  readonly value: string;
}

/** The tag set a PUT asks for (header, or query parameter in a presigned URL); undefined when none. */
export function taggingOf(request: IncomingMessage, target: S3Target): readonly Tag[] | S3Failure | undefined {
  const raw =
    headerValue(request, 'x-amz-tagging') ??
    target.query.find((pair) => pair.name.toLowerCase() === 'x-amz-tagging')?.value;
  if (raw === undefined) return undefined;
  const tags = [...new URLSearchParams(raw)].map(([key, value]) => ({ key, value }));
  const invalid = (message: string): S3Failure => ({ status: 400, code: 'InvalidTag', message });
  if (tags.length > 10) return invalid('Object tags cannot be greater than 10');
  if (new Set(tags.map((tag) => tag.key)).size !== tags.length)
    return invalid('Cannot provide multiple Tags with the same key');
  if (tags.some((tag) => tag.key.length === 0 || tag.key.length > 128))
    return invalid('The TagKey you have provided is invalid');
  if (tags.some((tag) => tag.value.length > 256)) return invalid('The TagValue you have provided is invalid');
  return tags;
}

/** The tag set s3rver holds for the object at `path`; none when it has no object there. */
export async function readTags(origin: ObjectOrigin, path: string): Promise<Tag[]> {
  const upstream = await origin.request('GET', `${path}?tagging`);
  const xml = await readReplyText(upstream);
  if (upstream.statusCode !== 200) return [];
  return [...xml.matchAll(/<Tag>\s*<Key>([^<]*)<\/Key>\s*<Value>([^<]*)<\/Value>\s*<\/Tag>/g)].map((match) => ({
    key: unescapeXml(match[1] ?? ''),
    value: unescapeXml(match[2] ?? ''),
  }));
}

export async function writeTags(origin: ObjectOrigin, path: string, tags: readonly Tag[]): Promise<void> {
  const upstream = await origin.request(
    'PUT',
    `${path}?tagging`,
    { 'content-type': 'application/xml' },
    Buffer.from(taggingXml(tags)),
  );
  const body = await readReplyText(upstream);
  if (upstream.statusCode !== 200) throw new Error(`s3rver refused the tag set (${upstream.statusCode}): ${body}`);
}

function taggingXml(tags: readonly Tag[]): string {
  const items = tags
    .map((tag) => `<Tag><Key>${escapeXml(tag.key)}</Key><Value>${escapeXml(tag.value)}</Value></Tag>`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?><Tagging><TagSet>${items}</TagSet></Tagging>`;
}
