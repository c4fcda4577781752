/**
 * Media end to end on the local stack: presigned upload to the local S3 (which refuses what S3
 * would), processing on the object-created event, a message carrying the attachment to every
 * device, and signed downloads through the local CloudFront stand-in.
 */
import { GetObjectTaggingCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '#shared/aws/s3';
import { media, mediaKeys, mediaResponseHeaders } from '#shared/config/media';
import { localCredentials, localRegion } from '../../local/aws-local';
import { api, ChatClient, type Frame, issueToken } from '../support/chat-client';
import { startTestStack, type TestStack } from '../support/local-stack';
import { htmlBehindFtyp, jpegWithGps, mp4Video, pdfDocument, pngImage, readGps } from '../support/media-fixtures';

interface User {
  token: string;
  userId: string;
}

interface UploadTicket {
  attachmentId: string;
  uploadUrl: string;
  uploadHeaders: Record<string, string>;
  expiresAt: string;
  poster?: { uploadUrl: string; uploadHeaders: Record<string, string> };
}

interface AttachmentView {
  status: 'pending' | 'ready' | 'rejected';
  rejection?: string;
  url?: string;
  thumbnailUrl?: string;
  width?: number;
  height?: number;
  thumbnail?: { width: number; height: number; contentType: string };
}

let stack: TestStack;
let s3: S3Client;
let alice: User;
let bob: User;
let mallory: User;
let conversationId: string;
const clients: ChatClient[] = [];

beforeAll(async () => {
  stack = await startTestStack('media');
  s3 = createS3Client({
    endpoint: stack.s3Endpoint,
    region: localRegion,
    credentials: localCredentials,
    forcePathStyle: true,
  });
  [alice, bob, mallory] = (await Promise.all(
    ['alice', 'bob', 'mallory'].map((name) => issueToken(stack.httpUrl, `${name}-media`)),
  )) as [User, User, User];
  const created = await api(stack.httpUrl, alice.token, 'POST', '/conversations', {
    type: 'direct',
    memberIds: [bob.userId],
  });
  expect(created.status).toBe(201);
  conversationId = String(created.body.id);
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  s3?.destroy();
  await stack?.stop();
});

async function connect(user: User, deviceId: string): Promise<ChatClient> {
  const client = await ChatClient.connect(stack.wsUrl, user.token, deviceId);
  clients.push(client);
  return client;
}

async function startUpload(user: User, body: Record<string, unknown>) {
  return api(stack.httpUrl, user.token, 'POST', `/conversations/${conversationId}/attachments`, body);
}

async function ticketFor(user: User, fileName: string, contentType: string, bytes: Buffer, extra = {}) {
  const answer = await startUpload(user, { fileName, contentType, size: bytes.byteLength, ...extra });
  expect(answer.status).toBe(201);
  return answer.body as unknown as UploadTicket;
}

function put(url: string, headers: Record<string, string>, body: Buffer) {
  return fetch(url, { method: 'PUT', headers, body });
}

async function attachment(user: User, attachmentId: string) {
  return api(stack.httpUrl, user.token, 'GET', `/attachments/${attachmentId}`);
}

/** Processing runs on the object-created event, after the PUT has answered: poll until it settles. */
async function settled(user: User, attachmentId: string): Promise<AttachmentView> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const answer = await attachment(user, attachmentId);
    expect(answer.status).toBe(200);
    const view = answer.body as unknown as AttachmentView;
    if (view.status !== 'pending') return view;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`attachment ${attachmentId} still pending`);
}

async function tagsOf(key: string) {
  const tagging = await s3.send(new GetObjectTaggingCommand({ Bucket: stack.mediaBucket, Key: key }));
  return Object.fromEntries((tagging.TagSet ?? []).map((tag) => [tag.Key, tag.Value]));
}

async function objectExists(key: string): Promise<boolean> {
  return s3.send(new HeadObjectCommand({ Bucket: stack.mediaBucket, Key: key })).then(
    () => true,
    () => false,
  );
}

describe('a photo from Alice to Bob', () => {
  let photo: Buffer;
  let ticket: UploadTicket;
  let bobPhone: ChatClient;
  let bobLaptop: ChatClient;
  let delivered: Frame[];

  beforeAll(async () => {
    photo = await jpegWithGps();
    expect(await readGps(photo)).toBeDefined();
    bobPhone = await connect(bob, 'phone');
    bobLaptop = await connect(bob, 'laptop');
  });

  it('uploads with the presigned PUT and becomes ready with its dimensions and a thumbnail', async () => {
    ticket = await ticketFor(alice, 'Beach 🏖️.jpg', 'image/jpeg', photo);
    expect(new URL(ticket.uploadUrl).pathname).toContain(`${conversationId}/${ticket.attachmentId}`);
    expect(ticket.uploadUrl).not.toContain('Beach');
    const uploaded = await put(ticket.uploadUrl, ticket.uploadHeaders, photo);
    expect(uploaded.status).toBe(200);

    const view = await settled(alice, ticket.attachmentId);
    expect(view).toMatchObject({ status: 'ready', width: 1200, height: 800 });
    expect(view.thumbnail?.contentType).toBe('image/webp');
    expect(Math.max(view.thumbnail?.width ?? 0, view.thumbnail?.height ?? 0)).toBe(media.thumbnail.maxDimension);
    // The upload itself is gone; what is served was written by the processor.
    expect(await objectExists(mediaKeys.upload(conversationId, ticket.attachmentId, 'original'))).toBe(false);
  });

  it('marks the unsent upload for expiry', async () => {
    const original = mediaKeys.original(conversationId, ticket.attachmentId);
    expect(await tagsOf(original)).toEqual({ [media.retentionTag.key]: media.retentionTag.unsent });
    expect(await tagsOf(mediaKeys.thumbnail(conversationId, ticket.attachmentId))).toEqual({
      [media.retentionTag.key]: media.retentionTag.unsent,
    });
  });

  it('is not Bob’s to see before it is sent', async () => {
    expect((await attachment(bob, ticket.attachmentId)).status).toBe(404);
  });

  it('reaches both of Bob’s devices as a message carrying the attachment and its thumbnail', async () => {
    const alicePhone = await connect(alice, 'phone');
    const answer = alicePhone.nextFrame((frame) => frame.type === 'messageAccepted' || frame.type === 'error');
    alicePhone.send({
      action: 'sendMessage',
      conversationId,
      clientMessageId: 'photo-1',
      attachmentIds: [ticket.attachmentId],
    });
    const accepted = await answer;
    expect(accepted.type).toBe('messageAccepted');

    delivered = await Promise.all(
      [bobPhone, bobLaptop].map((device) =>
        device.waitFor(
          (frame) =>
            frame.type === 'message' && (frame.message as { clientMessageId?: string }).clientMessageId === 'photo-1',
        ),
      ),
    );
    for (const frame of delivered) {
      const message = frame.message as { text: string; attachments: unknown[] };
      expect(message.text).toBe('');
      expect(message.attachments).toEqual([
        expect.objectContaining({
          id: ticket.attachmentId,
          kind: 'image',
          fileName: 'Beach 🏖️.jpg',
          contentType: 'image/jpeg',
          width: 1200,
          height: 800,
          thumbnail: expect.objectContaining({ contentType: 'image/webp' }),
        }),
      ]);
    }
  });

  it('gives Bob signed URLs: the original without GPS, and the thumbnail', async () => {
    const view = await settled(bob, ticket.attachmentId);
    expect(view.url).toMatch(new RegExp(`^${stack.mediaCdnUrl}/`));
    const original = await fetch(view.url ?? '');
    expect(original.status).toBe(200);
    expect(original.headers.get('content-type')).toBe('image/jpeg');
    expect(original.headers.get('content-disposition')).toMatch(
      /^inline; filename="Beach .*\.jpg"; filename\*=UTF-8''Beach/,
    );
    const bytes = Buffer.from(await original.arrayBuffer());
    expect(await readGps(bytes)).toBeUndefined();
    const metadata = await sharp(bytes).metadata();
    expect(metadata).toMatchObject({ format: 'jpeg', width: 1200, height: 800 });
    expect(metadata.exif).toBeUndefined();

    const thumbnail = await fetch(view.thumbnailUrl ?? '');
    expect(thumbnail.status).toBe(200);
    const thumbnailMetadata = await sharp(Buffer.from(await thumbnail.arrayBuffer())).metadata();
    expect(thumbnailMetadata.format).toBe('webp');
    expect(thumbnailMetadata.width).toBe(view.thumbnail?.width);
  });

  it('keeps the objects once sent', async () => {
    const original = mediaKeys.original(conversationId, ticket.attachmentId);
    // The retention handler runs from the attachments stream, a moment after the send.
    for (let attempt = 0; attempt < 200; attempt++) {
      if ((await tagsOf(original))[media.retentionTag.key] === media.retentionTag.kept) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await tagsOf(original)).toEqual({ [media.retentionTag.key]: media.retentionTag.kept });
    expect(await tagsOf(mediaKeys.thumbnail(conversationId, ticket.attachmentId))).toEqual({
      [media.retentionTag.key]: media.retentionTag.kept,
    });
  });

  it('refuses a download URL that was tampered with, and gives Mallory nothing', async () => {
    const view = await settled(bob, ticket.attachmentId);
    const tampered = (view.url ?? '').replace('/original', '/thumbnail');
    expect((await fetch(tampered)).status).toBe(403);
    const unsigned = (view.url ?? '').split('?')[0] ?? '';
    expect((await fetch(unsigned)).status).toBe(403);
    expect((await attachment(mallory, ticket.attachmentId)).status).toBe(404);
  });
});

describe('uploads S3 would refuse', () => {
  it('refuses a body of another length than the one signed', async () => {
    const photo = await pngImage(64, 64);
    const ticket = await ticketFor(alice, 'a.png', 'image/png', photo);
    const longer = Buffer.concat([photo, Buffer.from('extra')]);
    expect((await put(ticket.uploadUrl, ticket.uploadHeaders, longer)).status).toBe(403);
    expect((await put(ticket.uploadUrl, ticket.uploadHeaders, photo.subarray(0, photo.length - 1))).status).toBe(403);
  });

  it('refuses a content type other than the one signed', async () => {
    const photo = await pngImage(64, 64);
    const ticket = await ticketFor(alice, 'a.png', 'image/png', photo);
    expect((await put(ticket.uploadUrl, { 'content-type': 'image/jpeg' }, photo)).status).toBe(403);
    expect((await put(ticket.uploadUrl, {}, photo)).status).toBe(403);
  });

  it('refuses an expired URL', async () => {
    const photo = await pngImage(64, 64);
    const key = mediaKeys.upload(conversationId, '01EXPIREDUPLOAD', 'original');
    const expired = await getSignedUrl(
      s3,
      new PutObjectCommand({
        Bucket: stack.mediaBucket,
        Key: key,
        ContentType: 'image/png',
        ContentLength: photo.length,
      }),
      {
        expiresIn: media.uploadUrlTtlSeconds,
        signingDate: new Date(Date.now() - (media.uploadUrlTtlSeconds + 60) * 1000),
        signableHeaders: new Set(['content-type', 'content-length']),
      },
    );
    expect((await put(expired, { 'content-type': 'image/png' }, photo)).status).toBe(403);
  });

  it('rejects a PNG declared as a PDF once its bytes are checked, and will not send it', async () => {
    const png = await pngImage(32, 32);
    const ticket = await ticketFor(alice, 'report.pdf', 'application/pdf', png);
    expect((await put(ticket.uploadUrl, ticket.uploadHeaders, png)).status).toBe(200);
    const view = await settled(alice, ticket.attachmentId);
    expect(view).toMatchObject({ status: 'rejected', rejection: 'type_mismatch' });
    expect(view.url).toBeUndefined();

    const send = await api(stack.httpUrl, alice.token, 'POST', `/conversations/${conversationId}/messages`, {
      clientMessageId: 'fake-pdf',
      attachmentIds: [ticket.attachmentId],
    });
    expect(send.status).toBe(400);
    expect(await objectExists(mediaKeys.original(conversationId, ticket.attachmentId))).toBe(false);
  });

  it('answers 415 for a type that is not accepted and 413 over the limit, with no URL', async () => {
    const exe = await startUpload(alice, { fileName: 'setup.exe', contentType: 'application/x-msdownload', size: 10 });
    expect(exe.status).toBe(415);
    expect(exe.body.uploadUrl).toBeUndefined();
    const huge = await startUpload(alice, { fileName: 'big.png', contentType: 'image/png', size: 1024 ** 3 });
    expect(huge.status).toBe(413);
    expect(huge.body.uploadUrl).toBeUndefined();
  });

  it('gives a non-member no upload URL', async () => {
    const answer = await startUpload(mallory, { fileName: 'x.png', contentType: 'image/png', size: 10 });
    expect(answer.status).toBe(404);
    expect(answer.body.uploadUrl).toBeUndefined();
  });
});

describe('documents and videos', () => {
  it('serves a PDF as a download under its own name', async () => {
    const pdf = pdfDocument();
    const ticket = await ticketFor(alice, 'Q3 report.pdf', 'application/pdf', pdf);
    expect((await put(ticket.uploadUrl, ticket.uploadHeaders, pdf)).status).toBe(200);
    const view = await settled(alice, ticket.attachmentId);
    expect(view.status).toBe('ready');
    expect(view.thumbnailUrl).toBeUndefined();
    const download = await fetch(view.url ?? '');
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('application/pdf');
    expect(download.headers.get('content-disposition')).toMatch(/^attachment; filename="Q3 report\.pdf"/);
    expect(Buffer.from(await download.arrayBuffer()).equals(pdf)).toBe(true);
  });

  it('takes a video’s thumbnail from the poster the client uploads with it', async () => {
    const video = mp4Video();
    const poster = await pngImage(640, 360);
    const ticket = await ticketFor(alice, 'clip.mp4', 'video/mp4', video, {
      poster: { contentType: 'image/png', size: poster.byteLength },
    });
    expect(ticket.poster).toBeDefined();
    expect((await put(ticket.uploadUrl, ticket.uploadHeaders, video)).status).toBe(200);
    // Not ready on the video alone: the poster is part of it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(((await attachment(alice, ticket.attachmentId)).body as unknown as AttachmentView).status).toBe('pending');
    expect((await put(ticket.poster?.uploadUrl ?? '', ticket.poster?.uploadHeaders ?? {}, poster)).status).toBe(200);

    const view = await settled(alice, ticket.attachmentId);
    expect(view.status).toBe('ready');
    expect(view.thumbnail).toEqual({ width: 320, height: 180, contentType: 'image/webp' });
    const download = await fetch(view.url ?? '', { headers: { range: 'bytes=0-7' } });
    expect(download.status).toBe(206);
    expect(Buffer.from(await download.arrayBuffer()).equals(video.subarray(0, 8))).toBe(true);
  });
});

/** Issue 20: what an attacker tried to make a member's browser or file manager take for something else. */
describe('deceptive files', () => {
  const page = Buffer.from('<html><script>alert(document.domain)</script></html>');

  function expectMediaPolicyHeaders(answer: Response) {
    for (const [name, value] of Object.entries(mediaResponseHeaders.security)) {
      expect(answer.headers.get(name)).toBe(value);
    }
  }

  it('serves x.html uploaded as text/plain as a download named x.txt, never x.html, with nosniff and a sandboxing CSP', async () => {
    const ticket = await ticketFor(alice, 'x.html', 'text/plain', page);
    expect((await put(ticket.uploadUrl, ticket.uploadHeaders, page)).status).toBe(200);
    const view = (await settled(alice, ticket.attachmentId)) as AttachmentView & { fileName?: string };
    expect(view).toMatchObject({ status: 'ready', fileName: 'x.txt' });

    const download = await fetch(view.url ?? '');
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('text/plain');
    expect(download.headers.get('content-disposition')).toBe('attachment; filename="x.txt"');
    expect(download.headers.get('x-content-type-options')).toBe('nosniff');
    expect(download.headers.get('content-security-policy')).toContain('sandbox');
    expectMediaPolicyHeaders(download);
  });

  it.each([
    ['a NUL hiding the real extension', 'x.png\u0000.html'],
    ['a right-to-left override reversing it', 'x\u202Egnp.exe'],
    ['an ANSI escape', '\u001b[31mx.png'],
    ['nothing visible', '\u200B'],
  ])('refuses a file name with %s before signing anything', async (_case, fileName) => {
    const answer = await startUpload(alice, { fileName, contentType: 'image/png', size: 100 });

    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: { code: 'bad_request' } });
    expect(answer.body.uploadUrl).toBeUndefined();
  });

  it('names a real PNG uploaded as x.svg by what it is: x.png, inline', async () => {
    const png = await pngImage(32, 32);
    const ticket = await ticketFor(alice, 'x.svg', 'image/png', png);
    expect((await put(ticket.uploadUrl, ticket.uploadHeaders, png)).status).toBe(200);
    const view = await settled(alice, ticket.attachmentId);
    const download = await fetch(view.url ?? '');

    expect(download.headers.get('content-disposition')).toBe('inline; filename="x.png"');
    expectMediaPolicyHeaders(download);
  });

  it('rejects a "video/mp4" that is a 24-byte ftyp header followed by <html><script>: it never reaches ready', async () => {
    const fake = htmlBehindFtyp();
    const poster = await pngImage(64, 36);
    const ticket = await ticketFor(alice, 'clip.mp4', 'video/mp4', fake, {
      poster: { contentType: 'image/png', size: poster.byteLength },
    });
    expect((await put(ticket.uploadUrl, ticket.uploadHeaders, fake)).status).toBe(200);
    expect((await put(ticket.poster?.uploadUrl ?? '', ticket.poster?.uploadHeaders ?? {}, poster)).status).toBe(200);

    const view = await settled(alice, ticket.attachmentId);
    expect(view).toMatchObject({ status: 'rejected', rejection: 'unreadable' });
    expect(view.url).toBeUndefined();
    expect(await objectExists(mediaKeys.original(conversationId, ticket.attachmentId))).toBe(false);
  });

  it('sends the policy headers on refusals too', async () => {
    const refused = await fetch(`${stack.mediaCdnUrl}/${mediaKeys.original(conversationId, '01NOSUCHATTACHMENT')}`);

    expect(refused.status).toBe(403);
    expectMediaPolicyHeaders(refused);
  });
});
