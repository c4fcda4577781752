/** Composition root of mediaProcess, the one handler with sharp installed beside it (see media-wiring.ts). */
import { MediaProcessingService } from '#shared/services/media-processing-service';
import { attachmentRepository, mediaStore } from './media-wiring';

export const createMediaProcessingService = () => new MediaProcessingService(attachmentRepository(), mediaStore());
