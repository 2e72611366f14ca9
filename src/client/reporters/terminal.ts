/**
 * The live view on a terminal: a status line while the server works (its X-Progress), then one bar per running
 * download and an overall bar (files, resources, bytes, speed, ETA). Other events are logged above the bars.
 */
import cliProgress from 'cli-progress';
import type { ExportEmitter } from '../events.js';
import type { PlannedFile } from '../types.js';
import { formatBytes, formatSeconds } from './format.js';

export interface TerminalReporter {
  /** Stops the bars (restores the cursor) and unsubscribes. Safe to call twice. */
  stop(): void;
}

export function terminalReporter(emitter: ExportEmitter, stream: NodeJS.WritableStream): TerminalReporter {
  const multibar = new cliProgress.MultiBar(
    {
      stream,
      clearOnComplete: false,
      hideCursor: true,
      gracefulExit: false, // the command handles SIGINT (abort, then stop)
      autopadding: true,
      barsize: 24,
      fps: 8,
      emptyOnZero: true,
      forceRedraw: true, // else a bar whose text did not change is not redrawn after lines were logged above it
      format: '{label} [{bar}] {percentage}% | {text}',
    },
    cliProgress.Presets.shades_classic,
  );
  const log = (text: string): void => multibar.log(`${text}\n`);

  let statusBar: cliProgress.SingleBar | undefined;
  let overall: cliProgress.SingleBar | undefined;
  const bars = new Map<number, cliProgress.SingleBar>();
  const progress = new Map<number, { bytes: number; total?: number }>();
  let files: PlannedFile[] = [];
  let done = 0;
  let resources = 0;
  let startedAt = 0;
  let bytesThisRun = 0;
  let doneBytes = 0;

  const updateOverall = (): void => {
    if (!overall) return;
    let fraction = 0;
    let bytes = doneBytes;
    for (const p of progress.values()) {
      bytes += p.bytes;
      if (p.total) fraction += Math.min(1, p.bytes / p.total);
    }
    const value = files.length === 0 ? 1 : done + fraction;
    const elapsedMs = Math.max(1, Date.now() - startedAt);
    const eta = value > 0 && value < Math.max(1, files.length) ? formatSeconds((elapsedMs * (files.length - value)) / value) : value >= files.length ? '0 s' : '…';
    overall.update(value, {
      text: `${done}/${files.length} files | ${resources} resources | ${formatBytes(bytes)} | ${formatBytes(Math.round((bytesThisRun * 1000) / elapsedMs))}/s | ETA ${eta}`,
    });
  };

  const offs = [
    emitter.on('kickoff', (e) => {
      log(`export started: ${e.statusUrl}`);
      statusBar = multibar.create(0, 0, { label: 'export', text: 'waiting for the server' }, { format: '{label}  {text}' });
    }),
    emitter.on('status', (e) => {
      statusBar ??= multibar.create(0, 0, { label: 'export', text: '' }, { format: '{label}  {text}' });
      statusBar.update(0, { text: `${e.progress ?? 'in progress'} (poll ${e.polls}, ${formatSeconds(e.elapsedMs)} elapsed)` });
    }),
    emitter.on('manifest', (e) => {
      files = e.files;
      startedAt = Date.now();
      if (statusBar) {
        statusBar.update(0, { text: `complete: ${files.length} file(s)` });
      } else {
        log(`export complete: ${files.length} file(s)`);
      }
      overall = multibar.create(
        Math.max(1, files.length),
        0,
        { label: 'total', text: '' },
        { format: '{label} [{bar}] {percentage}% | {text}' },
      );
      updateOverall();
    }),
    emitter.on('file-start', (e) => {
      const i = e.file.index;
      progress.set(i, { bytes: e.offset, ...(e.totalBytes !== undefined ? { total: e.totalBytes } : {}) });
      let bar = bars.get(i);
      if (!bar) {
        bar = multibar.create(e.totalBytes ?? 0, e.offset, { label: e.file.name, text: '' }, { format: '{label} [{bar}] {percentage}% | {text}' });
        bars.set(i, bar);
      } else if (e.totalBytes !== undefined) {
        bar.setTotal(e.totalBytes);
      }
      if (e.attempt > 1) log(`resuming ${e.file.name} at byte ${e.offset}`);
    }),
    emitter.on('file-progress', (e) => {
      const i = e.file.index;
      const prev = progress.get(i)?.bytes ?? 0;
      bytesThisRun += Math.max(0, e.bytes - prev);
      progress.set(i, { bytes: e.bytes, ...(e.totalBytes !== undefined ? { total: e.totalBytes } : {}) });
      bars.get(i)?.update(e.totalBytes !== undefined ? e.bytes : 0, {
        text: `${formatBytes(e.bytes)}${e.totalBytes !== undefined ? ` of ${formatBytes(e.totalBytes)}` : ''}`,
      });
      updateOverall();
    }),
    emitter.on('file-done', (e) => {
      const i = e.file.index;
      const bar = bars.get(i);
      if (bar) {
        bar.stop();
        multibar.remove(bar);
        bars.delete(i);
      }
      progress.delete(i);
      done++;
      resources += e.resources;
      doneBytes += e.bytes;
      if (e.ok) log(`${e.reused ? 'kept      ' : 'downloaded'} ${e.file.name}: ${e.resources} resources, ${formatBytes(e.bytes)}`);
      updateOverall();
    }),
    emitter.on('retry', (e) => log(`${e.phase}: ${e.reason}; retrying${e.delayMs > 0 ? ` in ${formatSeconds(e.delayMs)}` : ''}`)),
    emitter.on('error', (e) => log(`error (${e.phase}): ${e.message}`)),
    emitter.on('job-deleted', () => log('deleted the job on the server')),
  ];

  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      for (const off of offs) off();
      multibar.update(); // flushes lines logged since the last frame
      multibar.stop();
    },
  };
}
