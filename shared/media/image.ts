/**
 * Image re-encoding for uploads: the only module that touches sharp. Re-encoding drops every
 * metadata block (EXIF with GPS, XMP, IPTC) and bakes the EXIF orientation into the pixels.
 */
import sharp, { type Sharp, type SharpOptions } from 'sharp';
import { media } from '../config/media';

export interface ProcessedImage {
  readonly data: Buffer;
  readonly contentType: string;
  readonly width: number;
  readonly height: number;
}

/** The bytes do not decode as an image of an accepted format (or exceed the pixel limit). */
export class UnreadableImageError extends Error {
  override readonly name = 'UnreadableImageError';
}

type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif';

const formatOfContentType: Readonly<Record<string, ImageFormat>> = {
  'image/jpeg': 'jpeg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
};

/** Formats that can hold several frames, re-encoded whole so animations survive. */
const animatedFormats: ReadonlySet<ImageFormat> = new Set(['gif', 'webp']);

/** Decompression-bomb guard: a 25 MiB upload could otherwise declare billions of pixels. */
const maxInputPixels = 100_000_000;

/** Abort on corrupt or truncated pixel data, but tolerate the harmless warnings many phones' JPEGs raise. */
const decodeOptions = { failOn: 'error', limitInputPixels: maxInputPixels } as const satisfies SharpOptions;

/** Re-encodes an upload in its own format, oriented and without metadata; animations keep every frame. */
export async function cleanImage(input: Uint8Array, contentType: string): Promise<ProcessedImage> {
  const format = formatOfContentType[contentType];
  if (format === undefined) throw new Error(`cleanImage: unsupported image content type ${contentType}`);
  const image = sharp(input, { ...decodeOptions, animated: animatedFormats.has(format) });
  return await encode(image, [format], contentType, (oriented) => {
    // The ICC profile carries no personal data and keeps wide-gamut photos' colours right.
    const kept = oriented.keepIccProfile();
    switch (format) {
      case 'jpeg':
        return kept.jpeg({ quality: 90 });
      case 'png':
        return kept.png();
      case 'webp':
        return kept.webp({ quality: 90 });
      case 'gif':
        return kept.gif();
    }
  });
}

/** A small still of the first frame, oriented, within the configured box, never enlarged. */
export async function makeThumbnail(input: Uint8Array): Promise<ProcessedImage> {
  const { maxDimension, quality, contentType } = media.thumbnail;
  const image = sharp(input, decodeOptions);
  return await encode(image, Object.values(formatOfContentType), contentType, (oriented) =>
    oriented
      .resize(maxDimension, maxDimension, { fit: 'inside', withoutEnlargement: true })
      // Without keepIccProfile sharp converts to sRGB and drops the profile: right for small previews.
      .webp({ quality }),
  );
}

async function encode(
  image: Sharp,
  acceptedFormats: readonly ImageFormat[],
  contentType: string,
  pipeline: (oriented: Sharp) => Sharp,
): Promise<ProcessedImage> {
  let decodedFormat: string;
  try {
    decodedFormat = (await image.metadata()).format;
  } catch (error) {
    throw new UnreadableImageError(`Cannot read image: ${messageOf(error)}`, { cause: error });
  }
  // Only the formats we accept reach the decoder's pixels: no SVG, TIFF, HEIF or others libvips knows.
  if (!(acceptedFormats as readonly string[]).includes(decodedFormat)) {
    throw new UnreadableImageError(`Image decodes as ${decodedFormat}, expected ${acceptedFormats.join(' or ')}`);
  }
  try {
    // No withMetadata/keepExif: sharp writes no EXIF, XMP or IPTC by default.
    const { data, info } = await pipeline(image.autoOrient()).toBuffer({ resolveWithObject: true });
    // Animated output stacks its frames vertically; a frame's height is the image's height.
    return { data, contentType, width: info.width, height: info.pageHeight ?? info.height };
  } catch (error) {
    throw new UnreadableImageError(`Cannot decode image: ${messageOf(error)}`, { cause: error });
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
