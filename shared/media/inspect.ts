/**
 * Confirms an upload's declared content type from its first bytes (magic numbers), by the sniff
 * rules of `shared/config/media`. Pure: the caller fetches the bytes.
 */
import { fileTypeFromBuffer } from 'file-type';
import { typeSpecFor } from '../config/media';

/** Leading bytes callers pass: file-type needs about this many to recognise every format it knows. */
export const sniffByteCount = 4100;

export type Inspection =
  | { readonly ok: true; readonly contentType: string }
  | { readonly ok: false; readonly reason: 'type_mismatch' | 'unsupported_type'; readonly detected?: string };

/**
 * Checks the head of an upload against its declared type. A head shorter than `sniffByteCount` is
 * taken to be the whole file; a full-length one may end inside a multi-byte character.
 */
export async function inspectUpload(head: Uint8Array, declaredContentType: string): Promise<Inspection> {
  const rule = typeSpecFor(declaredContentType);
  if (rule === undefined) return { ok: false, reason: 'unsupported_type' };

  let detected: string | undefined;
  try {
    detected = (await fileTypeFromBuffer(head))?.mime;
  } catch {
    // file-type throws on some malformed containers; refusing the upload is the safe reading.
    return { ok: false, reason: 'type_mismatch' };
  }

  if ('magic' in rule) {
    if (detected !== undefined && (rule.magic.includes(detected) || rule.magic.includes(essenceOf(detected)))) {
      return { ok: true, contentType: declaredContentType };
    }
    return detected === undefined
      ? { ok: false, reason: 'type_mismatch' }
      : { ok: false, reason: 'type_mismatch', detected };
  }

  if (detected !== undefined) return { ok: false, reason: 'type_mismatch', detected };
  const mayBeCut = head.length >= sniffByteCount;
  return isUtf8TextWithoutNul(head, mayBeCut)
    ? { ok: true, contentType: declaredContentType }
    : { ok: false, reason: 'type_mismatch' };
}

/** The type without parameters: file-type names Ogg Opus `audio/ogg; codecs=opus`. */
function essenceOf(mime: string): string {
  return mime.split(';', 1)[0]?.trim() ?? mime;
}

function isUtf8TextWithoutNul(bytes: Uint8Array, mayBeCut: boolean): boolean {
  if (bytes.includes(0)) return false;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  try {
    // Streaming mode holds back an incomplete trailing sequence instead of rejecting it.
    decoder.decode(bytes, { stream: true });
    // The whole file was given: flushing rejects a character left unfinished at its end.
    if (!mayBeCut) decoder.decode();
    return true;
  } catch {
    return false;
  }
}
