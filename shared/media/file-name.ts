/**
 * User-supplied file names: made safe to store and to echo in a Content-Disposition header, and
 * named for what the bytes are. The name is metadata only; object keys never contain it.
 */
import contentDisposition from 'content-disposition';
import { type AttachmentKind, media, typeSpecFor } from '../config/media';
import { graphemeClusters } from '../protocol/text-rules';

/** Directional overrides and isolates (U+202A–U+202E, U+2066–U+2069) and marks: they can make `exe.pdf` read as `fdp.exe`. */
const bidiControls = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/gu;
/** C0, DEL and C1 controls, and lone surrogates (which would make encodeURIComponent throw). */
const controlsAndLoneSurrogates = /[\p{Cc}\p{Cs}]/gu;
/** Characters Windows refuses in file names, and quotes that could confuse header parsers. */
const reservedCharacters = /[<>:"|?*]/gu;
const dotsAndSpacesAtEnds = /^[. ]+|[. ]+$/gu;
/** An extension worth keeping when cutting: a short dotted suffix without spaces. */
const extensionPattern = /\.[^. ]{1,15}$/u;
const fallbackName = 'file';

export function sanitizeFileName(name: string): string {
  const lastSeparator = Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\'));
  const cleaned = name
    .normalize('NFC')
    .slice(lastSeparator + 1)
    // Whitespace controls (tab, newline) separate words: they become spaces before controls are dropped.
    .replace(/\s/gu, ' ')
    .replace(controlsAndLoneSurrogates, '')
    .replace(bidiControls, '')
    .replace(reservedCharacters, '')
    .replace(/ {2,}/gu, ' ')
    .replace(dotsAndSpacesAtEnds, '');
  const cut = cutToLength(cleaned, media.maxFileNameLength);
  return cut === '' ? fallbackName : cut;
}

/** A trailing extension as people and file managers read one: a dot and up to 10 letters or digits, a letter among them. */
const trailingExtension = /\.(?=[\p{L}\p{N}]*\p{L})[\p{L}\p{N}]{1,10}$/u;

/**
 * The name a file of `contentType` is served and shown under: sanitised, and ending with an
 * extension of that type, never with one the client chose for something else. A name already ending
 * with one of the type's extensions keeps it; another extension is replaced (`x.html` as text/plain
 * becomes `x.txt`); a name without one gets the type's usual one. So a saved download opens as what
 * the processor confirmed, whatever the uploader called it.
 */
export function servedFileName(name: string, contentType: string): string {
  const sanitized = sanitizeFileName(name);
  const extensions = typeSpecFor(contentType)?.extensions;
  if (extensions === undefined) throw new Error(`servedFileName: no extension for ${contentType}`);
  const lower = sanitized.toLowerCase();
  if (extensions.some((extension) => lower.endsWith(`.${extension}`))) return sanitized;
  const stem = sanitized.replace(trailingExtension, '').replace(dotsAndSpacesAtEnds, '') || fallbackName;
  const extension = `.${extensions[0]}`;
  return `${takeGraphemes(stem, media.maxFileNameLength - extension.length).replace(dotsAndSpacesAtEnds, '') || fallbackName}${extension}`;
}

/** Cuts at a grapheme boundary (never inside a surrogate pair or an emoji sequence), keeping the extension. */
function cutToLength(name: string, maxLength: number): string {
  if (name.length <= maxLength) return name;
  const extension = name.match(extensionPattern)?.[0] ?? '';
  const stem = name.slice(0, name.length - extension.length);
  return `${takeGraphemes(stem, maxLength - extension.length).replace(dotsAndSpacesAtEnds, '')}${extension}`;
}

function takeGraphemes(text: string, maxLength: number): string {
  let taken = '';
  for (const segment of graphemeClusters(text)) {
    if (taken.length + segment.length > maxLength) break;
    taken += segment;
  }
  return taken;
}

/**
 * A Content-Disposition value for a sanitised name: an ASCII `filename=` for old clients and, when
 * the name is not plain ASCII, the exact name as RFC 5987 `filename*=`.
 */
export function contentDispositionFor(fileName: string, disposition: 'inline' | 'attachment'): string {
  return contentDisposition(fileName, { type: disposition, fallback: asciiFallback(fileName) });
}

/** Accents dropped (é → e), anything else outside printable ASCII replaced, so header values stay ASCII. */
function asciiFallback(fileName: string): string {
  return fileName
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/[^\x20-\x7E]/gu, '_');
}

/**
 * Only media renders in the browser: a PDF, HTML or text file served inline from our CDN could run as
 * our origin. A video whose container could not be walked to its end is served as a download too.
 */
export function dispositionForKind(kind: AttachmentKind, containerVerified = true): 'inline' | 'attachment' {
  return kind === 'image' || (kind === 'video' && containerVerified) ? 'inline' : 'attachment';
}
