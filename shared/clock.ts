/** Server time, injectable so tests can pin it; never the client's clock. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export const epochSeconds = (date: Date) => Math.floor(date.getTime() / 1000);
