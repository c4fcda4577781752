/** Message text as React text nodes, with http(s) URLs (only) turned into links that open in a new tab. */
import type { ReactNode } from 'react';

const urlPattern = /\bhttps?:\/\/[^\s<>"]+/gi;

/** Drops sentence punctuation after a URL, but keeps a ")" that closes a "(" inside it (Wikipedia-style). */
function trimUrl(candidate: string): string {
  let url = candidate;
  for (;;) {
    const last = url.at(-1);
    if (last === undefined) return url;
    const unbalanced = last === ')' && (url.match(/\(/g)?.length ?? 0) < (url.match(/\)/g)?.length ?? 0);
    if (!".,;:!?'»]".includes(last) && !unbalanced) return url;
    url = url.slice(0, -1);
  }
}

/** The URL if it parses and is http(s); undefined otherwise. */
export function safeHttpUrl(candidate: string): string | undefined {
  try {
    const url = new URL(candidate);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

export interface TextPart {
  readonly text: string;
  readonly href?: string;
}

export function splitLinks(text: string): TextPart[] {
  const parts: TextPart[] = [];
  let last = 0;
  for (const match of text.matchAll(urlPattern)) {
    const start = match.index;
    const candidate = trimUrl(match[0]);
    const href = safeHttpUrl(candidate);
    if (href === undefined) continue;
    if (start > last) parts.push({ text: text.slice(last, start) });
    parts.push({ text: candidate, href });
    last = start + candidate.length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}

export function LinkifiedText({ text }: { readonly text: string }): ReactNode {
  return splitLinks(text).map((part, index) =>
    part.href === undefined ? (
      // biome-ignore lint/suspicious/noArrayIndexKey: parts are positional and never reorder
      <span key={index}>{part.text}</span>
    ) : (
      // biome-ignore lint/suspicious/noArrayIndexKey: parts are positional and never reorder
      <a key={index} href={part.href} target="_blank" rel="noopener noreferrer">
        {part.text}
      </a>
    ),
  );
}
