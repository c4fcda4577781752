/** The handlers' log lines as CloudWatch Logs would ingest them: counted in the run, kept off the console. */

/** Running totals of the handlers' log lines (Powertools JSON lines and EMF metrics). */
export interface HandlerLogMeter {
  reading(): { readonly bytes: number; readonly events: number };
  stop(): void;
}

type Write = (chunk: unknown, ...rest: unknown[]) => boolean;

/**
 * Counts the JSON lines written to stdout and stderr: the handlers' Powertools logger (INFO and DEBUG on
 * stdout, WARN and ERROR on stderr) and metrics; the bench's own lines never start with `{`. On Lambda
 * both streams go to CloudWatch Logs, a line an event. Lines on stdout are swallowed (thousands a
 * second); those on stderr are problems, still shown.
 */
export function meterHandlerLogs(
  out: NodeJS.WriteStream = process.stdout,
  err: NodeJS.WriteStream = process.stderr,
): HandlerLogMeter {
  let bytes = 0;
  let events = 0;
  const wrap = (stream: NodeJS.WriteStream, swallow: boolean) => {
    const original = stream.write as Write;
    const write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
      const text =
        typeof chunk === 'string' ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk).toString('utf8') : '';
      if (!text.startsWith('{')) return original.call(this, chunk, ...rest);
      for (const line of text.split('\n')) {
        if (line.length === 0) continue;
        bytes += Buffer.byteLength(line);
        events += 1;
      }
      if (!swallow) return original.call(this, chunk, ...rest);
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    };
    stream.write = write as typeof stream.write;
    return () => {
      stream.write = original as typeof stream.write;
    };
  };
  const restore = [wrap(out, true), wrap(err, false)];
  return {
    reading: () => ({ bytes, events }),
    stop: () => {
      for (const undo of restore) undo();
    },
  };
}
