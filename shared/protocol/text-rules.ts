/**
 * What text others will see may hold, in one place: message text, profile names and group names.
 * Refused (never silently changed): lone surrogates (no UTF-8 form), control characters (C0 and C1;
 * message text keeps newline, carriage return and tab), bidirectional embedding, override and isolate controls
 * (`alice\u202E` reads as someone else), and text with nothing visible in it (only whitespace,
 * zero-width or other format characters). Accepted text is stored in Unicode NFC.
 */

/** A lone UTF-16 surrogate has no UTF-8 form: strict JSON decoders (Swift, Rust) reject the whole frame or page holding it. */
const loneSurrogate = /\p{Cs}/u;
/** C0 and C1 controls and DEL (Unicode's Cc); newline, carriage return and tab are allowed where multi-line text is. */
const controlInName = /\p{Cc}/u;
const controlInText = /(?![\n\r\t])\p{Cc}/u;
/** LRE, RLE, PDF, LRO, RLO and LRI, RLI, FSI, PDI: they reorder what comes after them. */
const bidiControl = /[\u202A-\u202E\u2066-\u2069]/u;
/** What takes no visible place: whitespace, format characters (zero-width space and joiners, BOM, ...), controls. */
const invisible = /[\s\p{Cf}\p{Cc}\u115F\u1160\u3164\uFFA0\u2800]/gu;

export const textRuleMessages = {
  loneSurrogate: 'must be valid Unicode (no lone surrogates)',
  control: 'must not hold control characters',
  bidiControl: 'must not hold bidirectional override or isolate characters',
  invisible: 'must hold something visible',
} as const;

export const isWellFormed = (text: string) => !loneSurrogate.test(text);
/** Names: no controls at all. */
export const hasNoControlsInName = (text: string) => !controlInName.test(text);
/** Message text: newline and tab only. */
export const hasNoControlsInText = (text: string) => !controlInText.test(text);
export const hasNoBidiControls = (text: string) => !bidiControl.test(text);
/** Whether `text` shows anything: blank, zero-width-only and format-only text does not. */
export const isVisible = (text: string) => text.replace(invisible, '').length > 0;
/** A message shows something: visible text, or an attachment. */
export const hasContent = (content: { text?: string | undefined; attachmentIds?: readonly string[] | undefined }) =>
  isVisible(content.text ?? '') || (content.attachmentIds?.length ?? 0) > 0;

/** An emoji as Unicode recommends it for general interchange (RGI), whole: one grapheme cluster. */
// The `v` flag (Node 20, every current browser) is newer than the compile target: passed as a plain string.
const unicodeSets: string = 'v';
// Both made on first use: compiling the emoji set and loading ICU's break data cost tens of ms, which
// every handler bundling this module (the send and the fan-out among them) would pay at each cold start.
let rgiEmoji: RegExp | undefined;
let graphemeSegmenter: Intl.Segmenter | undefined;

/** The grapheme clusters of `text`: what a reader counts as characters. */
export function graphemeClusters(text: string): string[] {
  graphemeSegmenter ??= new Intl.Segmenter('en', { granularity: 'grapheme' });
  return Array.from(graphemeSegmenter.segment(text), (cluster) => cluster.segment);
}

/**
 * A reaction's emoji in the form it is stored and counted in, or undefined when `text` is not exactly
 * one emoji. A symbol typed without its emoji presentation selector (U+2764 for ❤️) takes it, so
 * both spellings count as one reaction.
 */
export function canonicalEmoji(text: string): string | undefined {
  if (text.length === 0 || text.length > 64) return undefined;
  if (graphemeClusters(text).length !== 1) return undefined;
  rgiEmoji ??= new RegExp('^\\p{RGI_Emoji}$', unicodeSets);
  if (rgiEmoji.test(text)) return text;
  const presented = `${text}\uFE0F`;
  return rgiEmoji.test(presented) ? presented : undefined;
}

export const emojiRuleMessage = 'must be exactly one emoji';
