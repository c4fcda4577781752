import { describe, expect, it } from 'vitest';
import { type ByteReader, checkContainer, maxTopLevelBoxes } from '#shared/media/container';
import { sniffByteCount } from '#shared/media/inspect';
import { box, htmlBehindFtyp, mp4Video } from '../support/media-fixtures';

/** What the processor does: the head it already read, and ranged reads of the rest, counted. */
async function walk(format: 'isobmff' | 'ebml', file: Buffer) {
  let reads = 0;
  const readAt: ByteReader = async (offset, length) => {
    reads += 1;
    return file.subarray(offset, offset + length);
  };
  const verdict = await checkContainer(format, file.subarray(0, sniffByteCount), file.length, readAt);
  return { verdict, reads };
}

const ftyp = () => box('ftyp', Buffer.from('isom\0\0\x02\0isomavc1', 'latin1'));
const moov = () => box('moov', box('mvhd', Buffer.alloc(100)));

/** An EBML element: its id bytes, a one-byte size (or the 8-byte unknown size), its payload. */
function element(id: number[], payload: Buffer, unknownSize = false): Buffer {
  const size = unknownSize
    ? Buffer.from([0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
    : Buffer.from([0x80 | payload.length]);
  return Buffer.concat([Buffer.from(id), size, payload]);
}

const ebmlHeader = (docType = 'webm') =>
  element(
    [0x1a, 0x45, 0xdf, 0xa3],
    Buffer.concat([element([0x42, 0x86], Buffer.from([1])), element([0x42, 0x82], Buffer.from(docType))]),
  );
const info = () => element([0x15, 0x49, 0xa9, 0x66], Buffer.alloc(10));
const cluster = (unknownSize = false) => element([0x1f, 0x43, 0xb6, 0x75], Buffer.alloc(20, 0x5a), unknownSize);
const segment = (children: Buffer, unknownSize = false) => element([0x18, 0x53, 0x80, 0x67], children, unknownSize);

describe('checkContainer: ISO BMFF (MP4, QuickTime)', () => {
  it('accepts boxes chained to the last byte with a moov, from the head alone', async () => {
    await expect(walk('isobmff', mp4Video())).resolves.toEqual({ verdict: 'valid', reads: 0 });
  });

  it('refuses an ftyp followed by a web page: the next "box" header is <htm', async () => {
    await expect(walk('isobmff', htmlBehindFtyp())).resolves.toMatchObject({ verdict: 'malformed' });
  });

  it('refuses a page hidden in a well-formed box when no moov follows', async () => {
    const page = box('free', Buffer.from('<html><script>alert(1)</script></html>'));

    await expect(walk('isobmff', Buffer.concat([ftyp(), page]))).resolves.toMatchObject({ verdict: 'malformed' });
  });

  it('refuses a box running past the end, a size under 8, a non-printable type and bytes left over', async () => {
    const file = Buffer.concat([ftyp(), moov()]);
    const truncated = file.subarray(0, file.length - 1);
    const tinySize = Buffer.concat([ftyp(), moov(), Buffer.from([0, 0, 0, 4]), Buffer.from('free')]);
    const binaryType = Buffer.concat([ftyp(), moov(), box('\u0001\u0002ab', Buffer.alloc(4))]);
    const leftover = Buffer.concat([ftyp(), moov(), Buffer.from('<p>')]);

    for (const bad of [truncated, tinySize, binaryType, leftover]) {
      await expect(walk('isobmff', bad)).resolves.toMatchObject({ verdict: 'malformed' });
    }
  });

  it('reads the headers of boxes past the head with small ranged reads, 64-bit sizes and a to-the-end box included', async () => {
    const bigMdat = box('mdat', Buffer.alloc(20_000, 0x5a));
    const large = Buffer.concat([Buffer.from([0, 0, 0, 1]), Buffer.from('free'), Buffer.alloc(8), Buffer.alloc(100)]);
    large.writeBigUInt64BE(BigInt(large.length), 8);
    const toTheEnd = Buffer.concat([Buffer.from([0, 0, 0, 0]), Buffer.from('mdat'), Buffer.alloc(64)]);
    const file = Buffer.concat([ftyp(), bigMdat, large, moov(), toTheEnd]);

    await expect(walk('isobmff', file)).resolves.toEqual({ verdict: 'valid', reads: 3 });
  });

  it(`leaves a file of more than ${maxTopLevelBoxes} top-level boxes unverified, never reading more headers`, async () => {
    const fragments = Array.from({ length: maxTopLevelBoxes }, () => box('moof', Buffer.alloc(200)));
    const file = Buffer.concat([ftyp(), moov(), ...fragments]);

    const { verdict, reads } = await walk('isobmff', file);

    expect(verdict).toBe('unverified');
    expect(reads).toBeLessThanOrEqual(maxTopLevelBoxes);
  });
});

describe('checkContainer: WebM', () => {
  it('accepts an EBML header naming webm and a segment of known size that ends the file', async () => {
    const file = Buffer.concat([ebmlHeader(), segment(Buffer.concat([info(), cluster()]))]);

    await expect(walk('ebml', file)).resolves.toEqual({ verdict: 'valid', reads: 0 });
  });

  it('accepts a live recording: segment and cluster of unknown size', async () => {
    const file = Buffer.concat([ebmlHeader(), segment(Buffer.concat([info(), cluster(true)]), true)]);

    await expect(walk('ebml', file)).resolves.toMatchObject({ verdict: 'valid' });
  });

  it('refuses a web page after the EBML header, another doc type, a segment short of the end, and a stray element', async () => {
    const page = Buffer.concat([ebmlHeader(), Buffer.from('<html><script>alert(1)</script></html>')]);
    const matroska = Buffer.concat([ebmlHeader('matroska'), segment(info())]);
    const shortSegment = Buffer.concat([ebmlHeader(), segment(info()), Buffer.from('<p>')]);
    const stray = Buffer.concat([
      ebmlHeader(),
      segment(Buffer.concat([info(), element([0x42, 0x86], Buffer.alloc(2))])),
    ]);

    for (const bad of [page, matroska, shortSegment, stray]) {
      await expect(walk('ebml', bad)).resolves.toMatchObject({ verdict: 'malformed' });
    }
  });
});
