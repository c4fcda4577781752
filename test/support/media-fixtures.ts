/**
 * Real media files for tests, generated in code so no binaries live in the repository. The
 * sharp-made ones are async; the hand-assembled ones (PDF, MP4, text) are plain bytes.
 */
import exifReader from 'exif-reader';
import sharp, { type Sharp } from 'sharp';

/** Where the GPS fixtures claim to have been taken (Greenwich): 51°30'0" N, 0°7'30" W. */
export const fixtureGps = { latitude: [51, 30, 0], longitude: [0, 7, 30] } as const;

const gpsExif = {
  IFD0: { Make: 'Parley Test Camera', Model: 'Fixture 1', Software: 'media-fixtures' },
  IFD3: {
    GPSLatitudeRef: 'N',
    GPSLatitude: '51/1 30/1 0/1',
    GPSLongitudeRef: 'W',
    GPSLongitude: '0/1 7/1 30/1',
  },
};

/** XMP can carry the location too (phones write it there as well); cleaning must drop it. */
const locationXmp = [
  '<x:xmpmeta xmlns:x="adobe:ns:meta/">',
  '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">',
  '<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/"',
  ' exif:GPSLatitude="51,30.0N" exif:GPSLongitude="0,7.5W"/>',
  '</rdf:RDF>',
  '</x:xmpmeta>',
].join('');

/**
 * Raw RGB pixels: red grows left to right, green top to bottom, so a corner's colour tells which
 * way up an image is (top-left dark, top-right red, bottom-left green).
 */
function gradient(width: number, height: number): Sharp {
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const offset = (y * width + x) * 3;
      pixels[offset] = Math.round((x / (width - 1)) * 255);
      pixels[offset + 1] = Math.round((y / (height - 1)) * 255);
      pixels[offset + 2] = 96;
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } });
}

/** A 1200x800 JPEG whose EXIF holds camera details and GPS coordinates, and whose XMP holds them again. */
export async function jpegWithGps(): Promise<Buffer> {
  return await gradient(1200, 800).jpeg({ quality: 85 }).withExif(gpsExif).withXmp(locationXmp).toBuffer();
}

/**
 * A JPEG stored 600x400 but tagged EXIF Orientation 6 (rotate 90° clockwise to display): shown
 * upright it is 400x600 with the green edge at the top-left. It carries GPS too.
 */
export async function jpegRotated(): Promise<Buffer> {
  // withExif cannot set Orientation (sharp writes the pixels' own); withMetadata can.
  return await gradient(600, 400).jpeg({ quality: 85 }).withExif(gpsExif).withMetadata({ orientation: 6 }).toBuffer();
}

export async function pngImage(width: number, height: number): Promise<Buffer> {
  return await gradient(width, height).png().toBuffer();
}

/** A looping 3-frame 64x48 GIF: red, green, blue frames of 200 ms. */
export async function animatedGif(): Promise<Buffer> {
  const width = 64;
  const frameHeight = 48;
  const frameColours = [
    [255, 0, 0],
    [0, 255, 0],
    [0, 0, 255],
  ] as const;
  const pixels = Buffer.alloc(width * frameHeight * frameColours.length * 3);
  frameColours.forEach((colour, frame) => {
    for (let pixel = 0; pixel < width * frameHeight; pixel += 1) {
      pixels.set(colour, (frame * width * frameHeight + pixel) * 3);
    }
  });
  return await sharp(pixels, {
    raw: { width, height: frameHeight * frameColours.length, channels: 3, pageHeight: frameHeight },
  })
    .gif({ delay: frameColours.map(() => 200), loop: 0 })
    .toBuffer();
}

/** A one-page PDF saying "Hello from Parley", with a correct cross-reference table. */
export function pdfDocument(): Buffer {
  const content = 'BT /F1 24 Tf 72 720 Td (Hello from Parley) Tj ET';
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  // The second line's high bytes mark the file as binary, as PDF writers do.
  let pdf = '%PDF-1.4\n%\xE2\xE3\xCF\xD3\n';
  const offsets: number[] = [];
  objects.forEach((body, index) => {
    offsets.push(pdf.length);
    pdf += `${index + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xrefOffset = pdf.length;
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) pdf += `${String(offset).padStart(10, '0')} 00000 n \n`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xrefOffset}\n%%EOF\n`;
  // latin1: one byte per character, so the offsets counted above are byte offsets.
  return Buffer.from(pdf, 'latin1');
}

/**
 * The shape of an MP4: an `ftyp` box (major brand isom), a `moov` with an empty `mvhd`, a `free` box
 * and a small `mdat`, chained to the last byte. Not playable, but it is what magic-number checks and
 * the container walk look at, and file-type calls it video/mp4.
 */
export function mp4Video(): Buffer {
  const ftyp = box('ftyp', Buffer.concat([ascii('isom'), uint32(0x200), ascii('isomiso2avc1mp41')]));
  const moov = box('moov', box('mvhd', Buffer.alloc(100)));
  const free = box('free', Buffer.alloc(8));
  const mdat = box('mdat', Buffer.alloc(256, 0x5a));
  return Buffer.concat([ftyp, moov, free, mdat]);
}

/** The issue-20 finding: a 24-byte `ftyp` header (magic numbers of video/mp4), then a web page. */
export function htmlBehindFtyp(): Buffer {
  const ftyp = box('ftyp', Buffer.concat([ascii('isom'), uint32(0x200), ascii('isomavc1')]));
  return Buffer.concat([ftyp, ascii('<html><script>alert(document.domain)</script></html>')]);
}

/** An ISO BMFF box: its size, its four-character type, its payload. */
export function box(type: string, payload: Buffer): Buffer {
  return Buffer.concat([uint32(8 + payload.length), ascii(type), payload]);
}

function uint32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return bytes;
}

function ascii(text: string): Buffer {
  return Buffer.from(text, 'ascii');
}

/** UTF-8 text with multi-byte characters (accents, CJK, an emoji) and no NUL. */
export function textFile(): Buffer {
  return Buffer.from('Meeting notes\nGrüße aus Zürich — 会議のメモ 👋\nSecond line, with a tab:\tdone.\n', 'utf8');
}

/** The GPS IFD of an image's EXIF, or undefined when it has no EXIF or no GPS in it. */
export async function readGps(image: Buffer): Promise<exifReader.Exif['GPSInfo'] | undefined> {
  const { exif } = await sharp(image).metadata();
  if (exif === undefined) return undefined;
  const gps = exifReader(exif).GPSInfo;
  return gps !== undefined && Object.keys(gps).length > 0 ? gps : undefined;
}
