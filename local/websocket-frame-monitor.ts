/**
 * Watches a client's raw bytes for frame headers. `ws` reassembles fragmented messages before we see
 * them, but API Gateway also limits each frame (32 KB), so the frame sizes are read off the socket.
 * Needs permessage-deflate off (API Gateway never negotiates it), so the header lengths are the real ones.
 */
export class FrameSizeMonitor {
  private headerBytes: number[] = [];
  private payloadBytesToSkip = 0;
  private tripped = false;

  constructor(
    private readonly maxFrameBytes: number,
    private readonly onOversizedFrame: (frameBytes: number) => void,
  ) {}

  push(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length && !this.tripped) {
      if (this.payloadBytesToSkip > 0) {
        const skipped = Math.min(this.payloadBytesToSkip, chunk.length - offset);
        this.payloadBytesToSkip -= skipped;
        offset += skipped;
        continue;
      }
      this.headerBytes.push(chunk[offset] ?? 0);
      offset += 1;
      if (this.headerBytes.length !== frameHeaderLength(this.headerBytes)) continue;
      const payloadBytes = framePayloadLength(this.headerBytes);
      this.headerBytes = [];
      if (payloadBytes > this.maxFrameBytes) {
        this.tripped = true;
        this.onOversizedFrame(payloadBytes);
        return;
      }
      this.payloadBytesToSkip = payloadBytes;
    }
  }
}

/** RFC 6455 5.2: 2 bytes, then a 2- or 8-byte extended length, then a 4-byte mask key if masked. */
function frameHeaderLength(header: readonly number[]): number | undefined {
  const second = header[1];
  if (second === undefined) return undefined;
  const shortLength = second & 0x7f;
  const extendedLengthBytes = shortLength === 126 ? 2 : shortLength === 127 ? 8 : 0;
  const maskBytes = (second & 0x80) !== 0 ? 4 : 0;
  return 2 + extendedLengthBytes + maskBytes;
}

function framePayloadLength(header: readonly number[]): number {
  const shortLength = (header[1] ?? 0) & 0x7f;
  if (shortLength < 126) return shortLength;
  const lengthBytes = header.slice(2, shortLength === 126 ? 4 : 10);
  return lengthBytes.reduce((length, byte) => length * 256 + byte, 0);
}
