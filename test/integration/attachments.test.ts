import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '#shared/clock';
import { media, mediaKeys, mediaKinds } from '#shared/config/media';
import { AppError } from '#shared/errors';
import type { DownloadUrlSigner, UploadUrlSigner } from '#shared/media/url-signers';
import { AttachmentReads, AttachmentUploads, SendableAttachments } from '#shared/services/attachment-service';
import { MessagingService } from '#shared/services/messaging-service';
import { TimelineWriter } from '#shared/services/timeline-writer';
import { fixedClock, type TestTables, uniqueNames, useTestTables } from '../support/test-tables';

/** Records what it was asked to sign; the real signers are exercised end to end on the local stack. */
class RecordingUploadSigner implements UploadUrlSigner {
  readonly calls: { key: string; contentType: string; size: number; expiresIn: number }[] = [];
  async presignPut(key: string, contentType: string, size: number, expiresIn: number) {
    this.calls.push({ key, contentType, size, expiresIn });
    return { url: `https://uploads.test/${key}`, headers: { 'content-type': contentType } };
  }
}

const downloadSigner: DownloadUrlSigner = {
  sign: async (key, expiresAt) => `https://cdn.test/${key}?until=${expiresAt.getTime()}`,
};

let db: TestTables;
let uploadSigner: RecordingUploadSigner;
let uploads: AttachmentUploads;
let reads: AttachmentReads;
const names = uniqueNames('att');

beforeAll(async () => {
  db = await useTestTables('attachments');
  uploadSigner = new RecordingUploadSigner();
  uploads = new AttachmentUploads(db.repositories.attachments, db.repositories.conversations, uploadSigner, fixedClock);
  reads = new AttachmentReads(db.repositories.attachments, db.repositories.conversations, downloadSigner, fixedClock);
});

async function group(creatorId: string, memberIds: string[], historyVisibility: 'joined' | 'all' = 'joined') {
  const { conversation } = await db.services.conversations.create({
    creatorId,
    type: 'group',
    memberIds,
    historyVisibility,
  });
  return conversation;
}

/** An upload that processing found good: the state a real pipeline leaves (see the e2e media test). */
async function readyImage(conversationId: string, uploaderId: string) {
  const ticket = await uploads.createUpload({
    uploaderId,
    conversationId,
    fileName: 'beach.jpg',
    contentType: 'image/jpeg',
    size: 1000,
  });
  await db.repositories.attachments.recordPart(ticket.attachmentId, {
    part: 'original',
    contentType: 'image/jpeg',
    size: 900,
    width: 1200,
    height: 800,
    thumbnail: { width: 320, height: 213, contentType: 'image/webp' },
  });
  expect(await db.repositories.attachments.settle(ticket.attachmentId, 'ready')).toBe(true);
  return ticket.attachmentId;
}

async function rawItem(attachmentId: string) {
  const result = await db.documentClient.send(
    new GetCommand({
      TableName: db.repositories.attachments.tableName,
      Key: { attachmentId },
      ConsistentRead: true,
    }),
  );
  return result.Item;
}

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describe('AttachmentUploads.createUpload', () => {
  it('records a pending attachment that expires unless sent, and presigns its upload key', async () => {
    const [alice, bob] = names('alice', 'bob');
    const conversation = await group(alice, [bob]);

    const ticket = await uploads.createUpload({
      uploaderId: alice,
      conversationId: conversation.id,
      fileName: '../../etc/Holiday photo.JPG',
      contentType: 'Image/JPEG',
      size: 2048,
    });

    const signed = uploadSigner.calls.at(-1);
    expect(signed).toEqual({
      key: mediaKeys.upload(conversation.id, ticket.attachmentId, 'original'),
      contentType: 'image/jpeg',
      size: 2048,
      expiresIn: media.uploadUrlTtlSeconds,
    });
    expect(ticket.uploadHeaders).toEqual({ 'content-type': 'image/jpeg' });
    expect(Date.parse(ticket.expiresAt) - fixedClock.now().getTime()).toBe(media.uploadUrlTtlSeconds * 1000);
    const item = await rawItem(ticket.attachmentId);
    expect(item).toMatchObject({
      conversationId: conversation.id,
      uploaderId: alice,
      kind: 'image',
      status: 'pending',
      fileName: 'Holiday photo.JPG',
      declaredContentType: 'image/jpeg',
      declaredSize: 2048,
    });
    expect(item?.expiresAt).toBe(
      Math.floor(fixedClock.now().getTime() / 1000) + media.unsentRetentionDays * 24 * 60 * 60,
    );
  });

  it('gives a video a second URL for its poster', async () => {
    const [alice] = names('alice');
    const conversation = await group(alice, []);
    const ticket = await uploads.createUpload({
      uploaderId: alice,
      conversationId: conversation.id,
      fileName: 'clip.mp4',
      contentType: 'video/mp4',
      size: 5_000_000,
      poster: { contentType: 'image/jpeg', size: 30_000 },
    });
    expect(ticket.poster?.uploadUrl).toContain(mediaKeys.upload(conversation.id, ticket.attachmentId, 'poster'));
    expect(await rawItem(ticket.attachmentId)).toMatchObject({ parts: ['original', 'poster'] });
  });

  it.each([
    ['a type no kind accepts', { contentType: 'application/x-msdownload', size: 10 }, 'unsupported_media_type'],
    ['an image over its limit', { contentType: 'image/png', size: mediaKinds.image.maxBytes + 1 }, 'payload_too_large'],
    [
      'a file over its limit',
      { contentType: 'application/pdf', size: mediaKinds.file.maxBytes + 1 },
      'payload_too_large',
    ],
  ])('refuses %s before signing anything', async (_case, declared, code) => {
    const [alice] = names('alice');
    const conversation = await group(alice, []);
    const signedBefore = uploadSigner.calls.length;
    const error = await refusal(
      uploads.createUpload({ uploaderId: alice, conversationId: conversation.id, fileName: 'x', ...declared }),
    );
    expect(error.code).toBe(code);
    expect(uploadSigner.calls.length).toBe(signedBefore);
  });

  it('refuses a poster for an image, and a poster of a bad type', async () => {
    const [alice] = names('alice');
    const conversation = await group(alice, []);
    const base = { uploaderId: alice, conversationId: conversation.id, fileName: 'x', size: 10 };
    const imageWithPoster = await refusal(
      uploads.createUpload({ ...base, contentType: 'image/png', poster: { contentType: 'image/png', size: 5 } }),
    );
    expect(imageWithPoster.code).toBe('bad_request');
    const gifPoster = await refusal(
      uploads.createUpload({ ...base, contentType: 'video/mp4', poster: { contentType: 'image/gif', size: 5 } }),
    );
    expect(gifPoster.code).toBe('unsupported_media_type');
  });

  it('gives a non-member nothing: not_found, no record, no URL', async () => {
    const [alice, mallory] = names('alice', 'mallory');
    const conversation = await group(alice, []);
    const signedBefore = uploadSigner.calls.length;
    const error = await refusal(
      uploads.createUpload({
        uploaderId: mallory,
        conversationId: conversation.id,
        fileName: 'x.png',
        contentType: 'image/png',
        size: 10,
      }),
    );
    expect(error.code).toBe('not_found');
    expect(uploadSigner.calls.length).toBe(signedBefore);
  });
});

describe('sending attachments', () => {
  it('carries the attachment metadata, records the seq and removes the expiry in the send', async () => {
    const [alice, bob] = names('alice', 'bob');
    const conversation = await group(alice, [bob]);
    const attachmentId = await readyImage(conversation.id, alice);

    const { message } = await db.services.messaging.send({
      senderId: alice,
      conversationId: conversation.id,
      clientMessageId: 'with-photo',
      text: '',
      attachmentIds: [attachmentId],
    });

    expect(message.text).toBe('');
    expect(message.attachments).toEqual([
      {
        id: attachmentId,
        kind: 'image',
        fileName: 'beach.jpg',
        contentType: 'image/jpeg',
        size: 900,
        width: 1200,
        height: 800,
        thumbnail: { width: 320, height: 213, contentType: 'image/webp' },
      },
    ]);
    const item = await rawItem(attachmentId);
    expect(item?.sentSeq).toBe(message.seq);
    expect(item?.expiresAt).toBeUndefined();
    expect((await db.timeline(conversation.id, message.seq, message.seq))[0]?.attachments).toEqual(message.attachments);
  });

  it('answers a retried send with the original, attachments included', async () => {
    const [alice] = names('alice');
    const conversation = await group(alice, []);
    const attachmentId = await readyImage(conversation.id, alice);
    const send = {
      senderId: alice,
      conversationId: conversation.id,
      clientMessageId: 'retry-me',
      text: 'look',
      attachmentIds: [attachmentId],
    };
    const first = await db.services.messaging.send(send);
    const again = await db.services.messaging.send(send);
    expect(again.duplicate).toBe(true);
    expect(again.message).toEqual(first.message);
  });

  it('keeps the first seq when an attachment is sent again', async () => {
    const [alice] = names('alice');
    const conversation = await group(alice, []);
    const attachmentId = await readyImage(conversation.id, alice);
    const first = await db.services.messaging.send({
      senderId: alice,
      conversationId: conversation.id,
      clientMessageId: 'one',
      text: '',
      attachmentIds: [attachmentId],
    });
    await db.services.messaging.send({
      senderId: alice,
      conversationId: conversation.id,
      clientMessageId: 'two',
      text: 'again',
      attachmentIds: [attachmentId],
    });
    expect((await rawItem(attachmentId))?.sentSeq).toBe(first.message.seq);
  });

  it('refuses attachments that are not ready, not the sender’s, of another conversation, listed twice or too old', async () => {
    const [alice, bob] = names('alice', 'bob');
    const conversation = await group(alice, [bob]);
    const other = await group(alice, [bob]);
    const send = (attachmentIds: string[], messaging: MessagingService = db.services.messaging, senderId = alice) =>
      refusal(
        messaging.send({
          senderId,
          conversationId: conversation.id,
          clientMessageId: `c-${Math.random()}`,
          text: 'x',
          attachmentIds,
        }),
      );

    const pending = await uploads.createUpload({
      uploaderId: alice,
      conversationId: conversation.id,
      fileName: 'a.png',
      contentType: 'image/png',
      size: 10,
    });
    expect((await send([pending.attachmentId])).code).toBe('conflict');

    const rejected = await uploads.createUpload({
      uploaderId: alice,
      conversationId: conversation.id,
      fileName: 'b.pdf',
      contentType: 'application/pdf',
      size: 10,
    });
    await db.repositories.attachments.settle(rejected.attachmentId, 'rejected', 'type_mismatch');
    const rejectedError = await send([rejected.attachmentId]);
    expect(rejectedError.code).toBe('bad_request');
    expect(rejectedError.details).toMatchObject({ rejection: 'type_mismatch' });

    const bobs = await readyImage(conversation.id, bob);
    expect((await send([bobs])).code).toBe('bad_request');
    const elsewhere = await readyImage(other.id, alice);
    expect((await send([elsewhere])).code).toBe('bad_request');
    expect((await send(['01NOSUCHATTACHMENT'])).code).toBe('bad_request');

    const mine = await readyImage(conversation.id, alice);
    expect((await send([mine, mine])).code).toBe('bad_request');

    const later: Clock = { now: () => new Date(fixedClock.now().getTime() + (media.sendableForSeconds + 1) * 1000) };
    const lateMessaging = new MessagingService(
      db.repositories.conversations,
      new TimelineWriter(db.repositories.messages, later),
      new SendableAttachments(db.repositories.attachments, later),
    );
    expect((await send([mine], lateMessaging)).code).toBe('bad_request');

    // None of the refusals took a seq.
    const { conversation: after } = await db.repositories.conversations.getMembership(conversation.id, alice);
    expect(after?.lastSeq).toBe(conversation.lastSeq);
  });
});

describe('AttachmentReads.get', () => {
  it('shows an unsent attachment to its uploader only, with URLs once ready', async () => {
    const [alice, bob] = names('alice', 'bob');
    const conversation = await group(alice, [bob]);
    const attachmentId = await readyImage(conversation.id, alice);

    const view = await reads.get(alice, attachmentId);
    expect(view).toMatchObject({ status: 'ready', kind: 'image', width: 1200, height: 800 });
    expect(view.url).toBe(
      `https://cdn.test/${mediaKeys.original(conversation.id, attachmentId)}?until=${Date.parse(view.expiresAt ?? '')}`,
    );
    expect(view.thumbnailUrl).toContain(mediaKeys.thumbnail(conversation.id, attachmentId));
    expect(Date.parse(view.expiresAt ?? '') - fixedClock.now().getTime()).toBe(media.downloadUrlTtlSeconds * 1000);

    expect((await refusal(reads.get(bob, attachmentId))).code).toBe('not_found');
  });

  it('gives a pending attachment no URLs', async () => {
    const [alice] = names('alice');
    const conversation = await group(alice, []);
    const ticket = await uploads.createUpload({
      uploaderId: alice,
      conversationId: conversation.id,
      fileName: 'a.png',
      contentType: 'image/png',
      size: 10,
    });
    const view = await reads.get(alice, ticket.attachmentId);
    expect(view.status).toBe('pending');
    expect(view.url).toBeUndefined();
    expect(view.thumbnailUrl).toBeUndefined();
  });

  it('shows a sent attachment to members whose history covers it, and to nobody else', async () => {
    const [alice, bob, carol, dave, mallory] = names('alice', 'bob', 'carol', 'dave', 'mallory');
    const conversation = await group(alice, [bob, carol]);
    const attachmentId = await readyImage(conversation.id, alice);
    await db.services.messaging.send({
      senderId: alice,
      conversationId: conversation.id,
      clientMessageId: 'photo',
      text: '',
      attachmentIds: [attachmentId],
    });

    expect((await reads.get(bob, attachmentId)).url).toBeDefined();
    expect((await refusal(reads.get(mallory, attachmentId))).code).toBe('not_found');

    await db.services.conversations.removeMember(conversation.id, alice, carol);
    expect((await refusal(reads.get(carol, attachmentId))).code).toBe('not_found');

    // Joined after the send, in a group whose history starts at each member's join.
    await db.services.conversations.addMembers(conversation.id, alice, [dave]);
    expect((await refusal(reads.get(dave, attachmentId))).code).toBe('not_found');
  });

  it('shows earlier attachments to a later member when the group shares all history', async () => {
    const [alice, erin] = names('alice', 'erin');
    const conversation = await group(alice, [], 'all');
    const attachmentId = await readyImage(conversation.id, alice);
    await db.services.messaging.send({
      senderId: alice,
      conversationId: conversation.id,
      clientMessageId: 'photo',
      text: '',
      attachmentIds: [attachmentId],
    });
    await db.services.conversations.addMembers(conversation.id, alice, [erin]);
    expect((await reads.get(erin, attachmentId)).status).toBe('ready');
  });
});
