import { createWriteStream, type WriteStream } from 'node:fs';
import type { HistoryEvent } from './history.js';

/** An event without its time: the log stamps it. */
export type UnstampedEvent = HistoryEvent extends infer E ? (E extends HistoryEvent ? Omit<E, 'time'> : never) : never;

/**
 * The run's history as it happens: kept in memory for the checker and, when a file is given,
 * written line by line at once, so a run that dies still leaves what it did.
 */
export class HistoryLog {
  readonly events: HistoryEvent[] = [];
  private readonly started = performance.now();
  private readonly file: WriteStream | undefined;

  /** `onEvent` sees each event as it is recorded (progress output). */
  constructor(
    path?: string,
    private readonly onEvent?: (event: HistoryEvent) => void,
  ) {
    this.file = path ? createWriteStream(path, { flags: 'w' }) : undefined;
  }

  /** Milliseconds since the run started. */
  now(): number {
    return Math.round((performance.now() - this.started) * 10) / 10;
  }

  record(event: UnstampedEvent): HistoryEvent {
    const stamped = { ...event, time: this.now() } as HistoryEvent;
    this.events.push(stamped);
    this.file?.write(JSON.stringify(stamped) + '\n');
    this.onEvent?.(stamped);
    return stamped;
  }

  /** Flushes and closes the file. */
  close(): Promise<void> {
    const file = this.file;
    if (!file || file.closed) return Promise.resolve();
    return new Promise((resolve, reject) => file.end((error?: Error | null) => (error ? reject(error) : resolve())));
  }
}
