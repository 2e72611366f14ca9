/**
 * Crash trials in `npm test`: a server SIGKILLed at a random instant of an export, restarted, and the resumed
 * export's files compared line by line with an uninterrupted run, on SQLite and PostgreSQL at once. One trial per
 * store on a small generated cohort by default; `CRASH_TRIALS=N` for more, `CRASH_SEED=S` to replay one,
 * `CRASH_POPULATION=synthea` for synthea-100 (scripts/crash-trials.ts runs many with a summary).
 */
import { describe, expect, it } from 'vitest';
import { crashTrial, openTrialBed, referenceRun, type TrialPopulation } from './helpers/crash-trials.js';

const TRIALS = Number(process.env['CRASH_TRIALS'] ?? 1);
const POPULATION: TrialPopulation = process.env['CRASH_POPULATION'] === 'synthea' ? 'synthea' : 'cohort';

describe.concurrent.each(['sqlite', 'postgres'] as const)('a %s server killed at random points of an export', (kind) => {
  it(`resumes the job after each restart with exactly the files of an uninterrupted run (${TRIALS} trials)`, async () => {
    const bed = await openTrialBed(kind, POPULATION);
    try {
      const server = await bed.start();
      const reference = await referenceRun(bed, server);
      expect(reference.files.length).toBeGreaterThan(20);
      const seed = Number(process.env['CRASH_SEED'] ?? Date.now());
      let x = seed;
      const random = (): number => ((x = (x * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
      for (let i = 0; i < TRIALS; i++) {
        // Anywhere from right after kick-off (planning) to the end of a run as long as the reference. The first
        // trial kills the server that ran the reference.
        const killAt = Math.round(random() * reference.ms);
        const result = await crashTrial(bed, reference, killAt, i === 0 ? server : undefined);
        expect(result.differences, `seed ${seed}, trial ${i}, killed after ${killAt} ms`).toEqual([]);
      }
    } finally {
      await bed.close();
    }
  }, 400_000);
});
