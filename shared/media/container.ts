/**
 * Container structure past the magic number. A magic number says how a file starts, not what
 * follows: a 24-byte `ftyp` box followed by `<html><script>` passes as video/mp4. An ISO BMFF file
 * (MP4, QuickTime) is a chain of top-level boxes that must reach exactly the end of the file and
 * hold a `moov`; a WebM file is an EBML header naming `webm`, then one Segment running to the end,
 * whose first elements must be Segment elements. Pure but for the reader the caller passes.
 */
import type { ContainerFormat } from '../config/media';

/** Bytes of the upload from `offset`, at most `length` of them. */
export type ByteReader = (offset: number, length: number) => Promise<Uint8Array>;

/**
 * `valid`: the structure holds to the end of the file (WebM: as far as the head shows, up to its
 * first cluster). `malformed`: it does not, the upload is refused. `unverified`: more top-level boxes
 * than `maxTopLevelBoxes` (a fragmented recording): nothing wrong was seen, it is served as a download.
 */
export type ContainerVerdict = 'valid' | 'malformed' | 'unverified';

/** Box headers read past the head, one small ranged read each: a phone's MP4 has 3 to 5 boxes. */
export const maxTopLevelBoxes = 64;

export async function checkContainer(
  format: ContainerFormat,
  head: Uint8Array,
  size: number,
  readAt: ByteReader,
): Promise<ContainerVerdict> {
  return format === 'isobmff' ? checkIsoBmff(head, size, readAt) : checkWebm(head, size);
}

/** A box type is four printable ASCII characters at the top level (ISO/IEC 14496-12, 4.2). */
const boxType = /^[\x20-\x7E]{4}$/u;

async function checkIsoBmff(head: Uint8Array, size: number, readAt: ByteReader): Promise<ContainerVerdict> {
  let offset = 0;
  let sawMovie = false;
  for (let boxes = 0; boxes < maxTopLevelBoxes; boxes++) {
    if (offset === size) return sawMovie ? 'valid' : 'malformed';
    if (size - offset < 8) return 'malformed';
    const headerLength = Math.min(16, size - offset);
    const header =
      offset + headerLength <= head.length
        ? head.subarray(offset, offset + headerLength)
        : await readAt(offset, headerLength);
    if (header.length < 8) return 'malformed';
    const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
    const type = String.fromCharCode(...header.subarray(4, 8));
    if (!boxType.test(type)) return 'malformed';
    let boxSize = view.getUint32(0);
    if (boxSize === 1) {
      // A 64-bit size follows the type.
      if (header.length < 16) return 'malformed';
      boxSize = Number(view.getBigUint64(8));
      if (boxSize < 16) return 'malformed';
    } else if (boxSize === 0) {
      // The last box, running to the end of the file.
      boxSize = size - offset;
    } else if (boxSize < 8) {
      return 'malformed';
    }
    if (boxSize > size - offset) return 'malformed';
    if (type === 'moov') sawMovie = true;
    offset += boxSize;
  }
  return offset === size && sawMovie ? 'valid' : 'unverified';
}

const ebmlHeaderId = 0x1a45dfa3;
const docTypeId = 0x4282;
const segmentId = 0x18538067;
const clusterId = 0x1f43b675;
/** What a Segment holds at its top (Matroska's level 1), and the Void and CRC-32 elements allowed anywhere. */
const segmentChildren = new Set([
  0x114d9b74, // SeekHead
  0x1549a966, // Info
  0x1654ae6b, // Tracks
  clusterId,
  0x1c53bb6b, // Cues
  0x1043a770, // Chapters
  0x1254c367, // Tags
  0x1941a469, // Attachments
  0xec, // Void
  0xbf, // CRC-32
]);

interface Vint {
  readonly value: number;
  readonly length: number;
  /** Every value bit set: an element of unknown size (live recordings write their Segment and Clusters so). */
  readonly unknown: boolean;
}

/** An EBML variable-length integer at `offset`; ids keep their length marker, sizes lose it. */
function readVint(bytes: Uint8Array, offset: number, keepMarker: boolean, maxLength: number): Vint | undefined {
  const first = bytes[offset];
  if (first === undefined || first === 0) return undefined;
  const length = Math.clz32(first) - 23;
  if (length > maxLength || offset + length > bytes.length) return undefined;
  let value = keepMarker ? first : first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let index = 1; index < length; index++) {
    const byte = bytes[offset + index] ?? 0;
    value = value * 256 + byte;
    allOnes &&= byte === 0xff;
  }
  return { value, length, unknown: !keepMarker && allOnes };
}

interface Element {
  readonly id: number;
  readonly dataStart: number;
  /** Undefined for an unknown size. */
  readonly dataSize?: number;
}

function readElement(bytes: Uint8Array, offset: number): Element | undefined {
  const id = readVint(bytes, offset, true, 4);
  if (id === undefined) return undefined;
  const size = readVint(bytes, offset + id.length, false, 8);
  if (size === undefined) return undefined;
  const dataStart = offset + id.length + size.length;
  return { id: id.value, dataStart, ...(size.unknown ? {} : { dataSize: size.value }) };
}

function checkWebm(head: Uint8Array, size: number): ContainerVerdict {
  const header = readElement(head, 0);
  if (header?.id !== ebmlHeaderId || header.dataSize === undefined) return 'malformed';
  const headerEnd = header.dataStart + header.dataSize;
  if (headerEnd > head.length) return 'malformed';
  let docType: string | undefined;
  for (let offset = header.dataStart; offset < headerEnd; ) {
    const child = readElement(head, offset);
    if (child?.dataSize === undefined || child.dataStart + child.dataSize > headerEnd) return 'malformed';
    if (child.id === docTypeId) {
      docType = String.fromCharCode(...head.subarray(child.dataStart, child.dataStart + child.dataSize));
    }
    offset = child.dataStart + child.dataSize;
  }
  if (docType?.replace(/\0+$/u, '') !== 'webm') return 'malformed';

  const segment = readElement(head, headerEnd);
  if (segment?.id !== segmentId) return 'malformed';
  if (segment.dataSize !== undefined && segment.dataStart + segment.dataSize !== size) return 'malformed';
  const segmentEnd = segment.dataSize === undefined ? size : segment.dataStart + segment.dataSize;
  let offset = segment.dataStart;
  while (offset < Math.min(segmentEnd, head.length)) {
    const child = readElement(head, offset);
    // Cut off by the end of the head: what was seen held.
    if (child === undefined) return offset + 12 > head.length ? 'valid' : 'malformed';
    if (!segmentChildren.has(child.id)) return 'malformed';
    if (child.dataSize === undefined) return child.id === clusterId ? 'valid' : 'malformed';
    if (child.dataStart + child.dataSize > segmentEnd) return 'malformed';
    offset = child.dataStart + child.dataSize;
  }
  return offset >= head.length || offset === segmentEnd ? 'valid' : 'malformed';
}
