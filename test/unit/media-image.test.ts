import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { media } from '#shared/config/media';
import { cleanImage, makeThumbnail, UnreadableImageError } from '#shared/media/image';
import { animatedGif, jpegRotated, jpegWithGps, pngImage, readGps } from '../support/media-fixtures';

/** The RGB of one pixel of an encoded image. */
async function pixelAt(image: Buffer, left: number, top: number): Promise<{ r: number; g: number; b: number }> {
  const data = await sharp(image).extract({ left, top, width: 1, height: 1 }).removeAlpha().raw().toBuffer();
  return { r: data[0] ?? -1, g: data[1] ?? -1, b: data[2] ?? -1 };
}

/** A real JPEG whose frame header claims `size` x `size` pixels: a decompression bomb's shape. */
async function jpegClaiming(size: number): Promise<Buffer> {
  const jpeg = Buffer.from(
    await sharp({ create: { width: 8, height: 8, channels: 3, background: 'gray' } })
      .jpeg()
      .toBuffer(),
  );
  const frameHeader = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
  expect(frameHeader).toBeGreaterThan(0);
  // SOF0: marker, length (2), precision (1), height (2), width (2).
  jpeg.writeUInt16BE(size, frameHeader + 5);
  jpeg.writeUInt16BE(size, frameHeader + 7);
  return jpeg;
}

describe('cleanImage', () => {
  it('drops EXIF (with GPS) and XMP but keeps the picture', async () => {
    const original = await jpegWithGps();
    expect(await readGps(original)).toMatchObject({ GPSLatitudeRef: 'N', GPSLatitude: [51, 30, 0] });
    expect((await sharp(original).metadata()).xmp).toBeDefined();

    const cleaned = await cleanImage(original, 'image/jpeg');

    expect(cleaned).toMatchObject({ contentType: 'image/jpeg', width: 1200, height: 800 });
    expect(await readGps(cleaned.data)).toBeUndefined();
    const metadata = await sharp(cleaned.data).metadata();
    expect(metadata).toMatchObject({ format: 'jpeg', width: 1200, height: 800 });
    expect(metadata.exif).toBeUndefined();
    expect(metadata.xmp).toBeUndefined();
    expect(metadata.iptc).toBeUndefined();
  });

  it('applies the EXIF orientation to the pixels and drops the tag', async () => {
    const rotated = await jpegRotated();
    expect(await sharp(rotated).metadata()).toMatchObject({ width: 600, height: 400, orientation: 6 });

    const cleaned = await cleanImage(rotated, 'image/jpeg');

    expect(cleaned).toMatchObject({ width: 400, height: 600 });
    const metadata = await sharp(cleaned.data).metadata();
    expect(metadata).toMatchObject({ width: 400, height: 600 });
    expect(metadata.orientation).toBeUndefined();
    expect(await readGps(cleaned.data)).toBeUndefined();
    // Turned 90° clockwise, the stored bottom-left (green) corner is now the top-left one.
    const topLeft = await pixelAt(cleaned.data, 0, 0);
    expect(topLeft.g).toBeGreaterThan(200);
    expect(topLeft.r).toBeLessThan(60);
  });

  it('re-encodes a PNG as a PNG of the same size', async () => {
    const cleaned = await cleanImage(await pngImage(300, 200), 'image/png');

    expect(cleaned).toMatchObject({ contentType: 'image/png', width: 300, height: 200 });
    expect((await sharp(cleaned.data).metadata()).format).toBe('png');
  });

  it('drops XMP from a PNG', async () => {
    const withXmp = await sharp(await pngImage(40, 40))
      .withXmp('<x:xmpmeta xmlns:x="adobe:ns:meta/"></x:xmpmeta>')
      .png()
      .toBuffer();
    expect((await sharp(withXmp).metadata()).xmp).toBeDefined();

    const cleaned = await cleanImage(withXmp, 'image/png');

    expect((await sharp(cleaned.data).metadata()).xmp).toBeUndefined();
  });

  it('keeps every frame of an animated GIF and reports the frame size', async () => {
    const cleaned = await cleanImage(await animatedGif(), 'image/gif');

    expect(cleaned).toMatchObject({ contentType: 'image/gif', width: 64, height: 48 });
    const metadata = await sharp(cleaned.data, { animated: true }).metadata();
    expect(metadata).toMatchObject({ format: 'gif', pages: 3, pageHeight: 48, loop: 0, delay: [200, 200, 200] });
  });

  it('keeps every frame of an animated WebP', async () => {
    const webp = await sharp(await animatedGif(), { animated: true })
      .webp()
      .toBuffer();

    const cleaned = await cleanImage(webp, 'image/webp');

    expect(cleaned).toMatchObject({ contentType: 'image/webp', width: 64, height: 48 });
    expect((await sharp(cleaned.data).metadata()).pages).toBe(3);
  });

  it('throws UnreadableImageError for bytes that are no image', async () => {
    const garbage = Buffer.from('this is not an image at all, just text pretending');

    await expect(cleanImage(garbage, 'image/jpeg')).rejects.toBeInstanceOf(UnreadableImageError);
  });

  it('throws UnreadableImageError for a truncated JPEG', async () => {
    const jpeg = await jpegWithGps();
    const truncated = jpeg.subarray(0, Math.floor(jpeg.length / 2));

    await expect(cleanImage(truncated, 'image/jpeg')).rejects.toBeInstanceOf(UnreadableImageError);
  });

  it('throws UnreadableImageError when the bytes are another format than declared', async () => {
    const png = await pngImage(20, 20);

    await expect(cleanImage(png, 'image/jpeg')).rejects.toBeInstanceOf(UnreadableImageError);
  });

  it('refuses a header claiming more pixels than the limit without decoding it', async () => {
    // 12000² = 144 M pixels: over our 100 M limit, under sharp's default of 268 M.
    const bomb = await jpegClaiming(12_000);

    await expect(cleanImage(bomb, 'image/jpeg')).rejects.toThrow(/pixel limit/);
    await expect(cleanImage(bomb, 'image/jpeg')).rejects.toBeInstanceOf(UnreadableImageError);
  });

  it('refuses a content type it does not re-encode', async () => {
    const png = await pngImage(20, 20);

    await expect(cleanImage(png, 'image/tiff')).rejects.toThrow(/unsupported image content type/);
  });
});

describe('makeThumbnail', () => {
  it(`fits a large photo within ${media.thumbnail.maxDimension} px as WebP, without metadata`, async () => {
    const thumbnail = await makeThumbnail(await jpegWithGps());

    expect(thumbnail).toMatchObject({ contentType: 'image/webp', width: 320, height: 213 });
    const metadata = await sharp(thumbnail.data).metadata();
    expect(metadata).toMatchObject({ format: 'webp', width: 320, height: 213 });
    expect(metadata.exif).toBeUndefined();
    expect(metadata.xmp).toBeUndefined();
  });

  it('orients before fitting', async () => {
    const thumbnail = await makeThumbnail(await jpegRotated());

    expect(thumbnail).toMatchObject({ width: 213, height: 320 });
    expect((await pixelAt(thumbnail.data, 0, 0)).g).toBeGreaterThan(200);
  });

  it('never enlarges a small image', async () => {
    const thumbnail = await makeThumbnail(await pngImage(100, 50));

    expect(thumbnail).toMatchObject({ contentType: 'image/webp', width: 100, height: 50 });
  });

  it('uses only the first frame of an animation', async () => {
    const thumbnail = await makeThumbnail(await animatedGif());

    expect(thumbnail).toMatchObject({ width: 64, height: 48 });
    expect((await sharp(thumbnail.data).metadata()).pages ?? 1).toBe(1);
    const pixel = await pixelAt(thumbnail.data, 10, 10);
    expect(pixel.r).toBeGreaterThan(200);
    expect(pixel.g).toBeLessThan(60);
  });

  it('refuses formats outside the accepted image types', async () => {
    const svg = Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>',
    );

    await expect(makeThumbnail(svg)).rejects.toBeInstanceOf(UnreadableImageError);
  });

  it('throws UnreadableImageError for a truncated JPEG', async () => {
    const jpeg = await jpegWithGps();

    await expect(makeThumbnail(jpeg.subarray(0, 2000))).rejects.toBeInstanceOf(UnreadableImageError);
  });
});
