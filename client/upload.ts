/** Uploads (docs/media.md): presign, PUT straight to storage with progress, then wait for processing. */
import { ParleyUploadError } from './errors';
import type { HttpCaller } from './http-api';
import type { AttachmentView, ParleyApi, UploadOptions, UploadTicket } from './types';

const defaultTimeoutMs = 120_000;
const pollDelaysMs = [200, 300, 500, 800, 1000];

type UploadBody = Blob | Uint8Array<ArrayBuffer>;

export async function uploadAttachment(
  http: HttpCaller,
  api: ParleyApi,
  fetchImpl: typeof fetch,
  conversationId: string,
  file: Blob | Uint8Array,
  options: UploadOptions,
): Promise<AttachmentView> {
  const size = byteSize(file);
  const posterSize = options.poster === undefined ? 0 : byteSize(options.poster.file);
  const ticket = await http.request<UploadTicket>(
    'POST',
    `/conversations/${encodeURIComponent(conversationId)}/attachments`,
    {
      fileName: options.fileName,
      contentType: options.contentType,
      size,
      ...(options.poster === undefined
        ? {}
        : { poster: { contentType: options.poster.contentType, size: posterSize } }),
    },
  );
  const total = size + posterSize;
  const report = (sent: number) => options.onProgress?.(sent, total);

  await put(fetchImpl, ticket.attachmentId, ticket.uploadUrl, ticket.uploadHeaders, asBody(file), report);
  if (options.poster !== undefined) {
    const target = ticket.poster;
    if (target === undefined) {
      throw new ParleyUploadError('upload_failed', ticket.attachmentId, 'The server gave no poster upload URL');
    }
    await put(
      fetchImpl,
      ticket.attachmentId,
      target.uploadUrl,
      target.uploadHeaders,
      asBody(options.poster.file),
      (sent) => report(size + sent),
    );
  }
  return waitUntilProcessed(api, ticket.attachmentId, options.timeoutMs ?? defaultTimeoutMs);
}

function byteSize(file: Blob | Uint8Array): number {
  return file instanceof Uint8Array ? file.byteLength : file.size;
}

/** Request bodies must be backed by an ArrayBuffer; a view of a SharedArrayBuffer is copied. */
function asBody(file: Blob | Uint8Array): UploadBody {
  if (!(file instanceof Uint8Array)) return file;
  // Checked at runtime just above the cast: the view's buffer is a plain ArrayBuffer.
  return file.buffer instanceof ArrayBuffer ? (file as Uint8Array<ArrayBuffer>) : new Uint8Array(file);
}

/** XMLHttpRequest where it exists (browsers: upload progress events), else fetch with progress at the end. */
async function put(
  fetchImpl: typeof fetch,
  attachmentId: string,
  url: string,
  headers: Readonly<Record<string, string>>,
  body: UploadBody,
  onProgress: (sentBytes: number) => void,
): Promise<void> {
  const size = body instanceof Uint8Array ? body.byteLength : body.size;
  if (typeof XMLHttpRequest === 'function') {
    await putWithXhr(attachmentId, url, headers, body, onProgress);
    return;
  }
  let response: Response;
  try {
    response = await fetchImpl(url, { method: 'PUT', headers: { ...headers }, body });
  } catch (error) {
    throw new ParleyUploadError('upload_failed', attachmentId, `Upload failed: ${String(error)}`);
  }
  // Drain the body so the connection can be reused.
  await response.text().catch(() => '');
  if (!response.ok) {
    throw new ParleyUploadError('upload_failed', attachmentId, `Storage refused the upload (HTTP ${response.status})`, {
      status: response.status,
    });
  }
  onProgress(size);
}

function putWithXhr(
  attachmentId: string,
  url: string,
  headers: Readonly<Record<string, string>>,
  body: UploadBody,
  onProgress: (sentBytes: number) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(body instanceof Uint8Array ? body.byteLength : body.size);
        resolve();
      } else {
        reject(
          new ParleyUploadError('upload_failed', attachmentId, `Storage refused the upload (HTTP ${xhr.status})`, {
            status: xhr.status,
          }),
        );
      }
    };
    xhr.onerror = () => reject(new ParleyUploadError('upload_failed', attachmentId, 'Upload failed (network error)'));
    xhr.onabort = () => reject(new ParleyUploadError('upload_failed', attachmentId, 'Upload aborted'));
    xhr.send(body);
  });
}

/** Polls until processing settles: `ready` answers the view, `rejected` throws, and so does running out of time. */
async function waitUntilProcessed(api: ParleyApi, attachmentId: string, timeoutMs: number): Promise<AttachmentView> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    const view = await api.getAttachment(attachmentId);
    if (view.status === 'ready') return view;
    if (view.status === 'rejected') {
      throw new ParleyUploadError(
        'rejected',
        attachmentId,
        `The upload was rejected (${view.rejection ?? 'unknown'})`,
        view.rejection === undefined ? {} : { rejection: view.rejection },
      );
    }
    const delay = pollDelaysMs[Math.min(attempt, pollDelaysMs.length - 1)] ?? 1000;
    if (Date.now() + delay > deadline) {
      throw new ParleyUploadError('timeout', attachmentId, `The upload was still processing after ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
