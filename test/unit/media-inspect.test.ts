import { describe, expect, it } from 'vitest';
import { inspectUpload, sniffByteCount } from '#shared/media/inspect';
import { animatedGif, jpegWithGps, mp4Video, pdfDocument, pngImage, textFile } from '../support/media-fixtures';

/** What the processor passes: only the leading bytes of the object. */
const head = (bytes: Uint8Array): Uint8Array => bytes.subarray(0, sniffByteCount);

/** An Ogg page whose first packet is an Opus header, as browsers' voice recordings start. */
function oggOpusHead(): Buffer {
  return Buffer.concat([Buffer.from('OggS'), Buffer.alloc(24), Buffer.from('OpusHead'), Buffer.alloc(32, 1)]);
}

describe('inspectUpload', () => {
  it.each([
    ['image/jpeg', jpegWithGps],
    ['image/png', () => pngImage(64, 64)],
    ['image/gif', animatedGif],
    ['application/pdf', async () => pdfDocument()],
    ['video/mp4', async () => mp4Video()],
    ['text/plain', async () => textFile()],
    ['text/csv', async () => Buffer.from('name,city\nZoë,Zürich\n')],
    ['audio/ogg', async () => oggOpusHead()],
  ])('accepts a real %s under its own name', async (contentType, make) => {
    const bytes = await make();

    await expect(inspectUpload(head(bytes), contentType)).resolves.toEqual({ ok: true, contentType });
  });

  it('refuses a PNG declared as a PDF, naming what it is', async () => {
    const png = await pngImage(32, 32);

    await expect(inspectUpload(head(png), 'application/pdf')).resolves.toEqual({
      ok: false,
      reason: 'type_mismatch',
      detected: 'image/png',
    });
  });

  it('refuses one accepted image type declared as another', async () => {
    const jpeg = await jpegWithGps();

    await expect(inspectUpload(head(jpeg), 'image/png')).resolves.toEqual({
      ok: false,
      reason: 'type_mismatch',
      detected: 'image/jpeg',
    });
  });

  it('refuses an MP4 declared as QuickTime', async () => {
    await expect(inspectUpload(mp4Video(), 'video/quicktime')).resolves.toMatchObject({
      ok: false,
      reason: 'type_mismatch',
      detected: 'video/mp4',
    });
  });

  it('refuses bytes with no magic number declared as an image', async () => {
    const result = await inspectUpload(textFile(), 'image/jpeg');

    expect(result).toEqual({ ok: false, reason: 'type_mismatch' });
  });

  it.each(['image/svg+xml', 'text/html', 'application/x-msdownload', 'image/JPEG', ''])(
    'refuses the undeclared type %j as unsupported',
    async (contentType) => {
      const jpeg = await jpegWithGps();

      await expect(inspectUpload(head(jpeg), contentType)).resolves.toEqual({ ok: false, reason: 'unsupported_type' });
    },
  );

  describe('text', () => {
    it('refuses text containing a NUL byte', async () => {
      const bytes = Buffer.from('harmless looking\0text');

      await expect(inspectUpload(bytes, 'text/plain')).resolves.toEqual({ ok: false, reason: 'type_mismatch' });
    });

    it('refuses bytes that are not UTF-8', async () => {
      const latin1 = Buffer.from('caf\xe9 cr\xe8me', 'latin1');

      await expect(inspectUpload(latin1, 'text/plain')).resolves.toEqual({ ok: false, reason: 'type_mismatch' });
    });

    it('refuses a binary format declared as text, naming it', async () => {
      await expect(inspectUpload(pdfDocument(), 'text/plain')).resolves.toEqual({
        ok: false,
        reason: 'type_mismatch',
        detected: 'application/pdf',
      });
    });

    it('accepts a full-length head that ends inside a multi-byte character', async () => {
      const emoji = Buffer.from('👋');
      const bytes = Buffer.concat([Buffer.alloc(sniffByteCount - 2, 'a'), emoji]);
      const cutHead = head(bytes);
      expect(cutHead.subarray(-2)).toEqual(emoji.subarray(0, 2));

      await expect(inspectUpload(cutHead, 'text/plain')).resolves.toEqual({ ok: true, contentType: 'text/plain' });
    });

    it('refuses a whole (short) file that ends inside a multi-byte character', async () => {
      const bytes = Buffer.concat([Buffer.from('hello '), Buffer.from('👋').subarray(0, 2)]);

      await expect(inspectUpload(bytes, 'text/plain')).resolves.toEqual({ ok: false, reason: 'type_mismatch' });
    });

    it('accepts an empty text file', async () => {
      await expect(inspectUpload(new Uint8Array(0), 'text/plain')).resolves.toEqual({
        ok: true,
        contentType: 'text/plain',
      });
    });
  });
});
