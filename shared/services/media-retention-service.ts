import { mediaKeys } from '../config/media';
import type { Attachment } from '../model';
import type { MediaStore } from '../repositories/media-store';

/** After a send: the attachment's objects lose the `unsent` tag, so the lifecycle rule keeps them. */
export class MediaRetentionService {
  constructor(private readonly store: MediaStore) {}

  /** Answers the keys that were already gone (expired before the tag was lifted: worth an alarm). */
  async keep(attachment: Pick<Attachment, 'id' | 'conversationId' | 'thumbnail'>): Promise<string[]> {
    const keys = [
      mediaKeys.original(attachment.conversationId, attachment.id),
      ...(attachment.thumbnail ? [mediaKeys.thumbnail(attachment.conversationId, attachment.id)] : []),
    ];
    const kept = await Promise.all(keys.map((key) => this.store.keep(key)));
    return keys.filter((_, index) => !kept[index]);
  }
}
