/**
 * Many crash trials: `npx tsx scripts/crash-trials.ts --trials 25 --store sqlite|postgres [--seed N]
 * [--population synthea|cohort]` (default synthea-100). Each trial
 * SIGKILLs a server at a random instant of an export, restarts it, and compares the resumed export's files line
 * by line with an uninterrupted run. Prints one line per trial and a summary; exits 1 if any trial differed.
 */
import { parseArgs } from 'node:util';
import { crashTrial, openTrialBed, referenceRun } from '../test/helpers/crash-trials.js';

const { values } = parseArgs({ options: { trials: { type: 'string', default: '25' }, store: { type: 'string', default: 'sqlite' }, seed: { type: 'string' }, population: { type: 'string', default: 'synthea' } } });
const trials = Number(values.trials);
const kind = values.store === 'postgres' ? 'postgres' : 'sqlite';
let x = Number(values.seed ?? Date.now());
const seed = x;
const random = (): number => (x = (x * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;

const bed = await openTrialBed(kind, values.population === 'cohort' ? 'cohort' : 'synthea');
let failed = 0;
let midway = 0;
const resumes: number[] = [];
try {
  const server = await bed.start();
  const reference = await referenceRun(bed, server);
  await server.kill('SIGTERM');
  const lines = reference.files.reduce((n, f) => n + f.lines.length - 1, 0);
  process.stdout.write(`${kind}: reference run ${reference.ms} ms, ${reference.files.length} files, ${lines} lines; seed ${seed}\n`);
  for (let i = 0; i < trials; i++) {
    const killAt = Math.round(random() * reference.ms);
    const r = await crashTrial(bed, reference, killAt);
    if (r.killedMidway) midway++;
    resumes.push(r.resumeMs);
    if (r.differences.length > 0) failed++;
    process.stdout.write(`trial ${i + 1}: killed after ${killAt} ms${r.killedMidway ? '' : ' (job already done)'}, resumed in ${r.resumeMs} ms, ${r.differences.length === 0 ? 'identical' : r.differences.join('; ')}\n`);
  }
} finally {
  await bed.close();
}
resumes.sort((a, b) => a - b);
process.stdout.write(
  `${kind}: ${trials} trials, ${midway} killed mid-export, ${trials - failed} identical to the uninterrupted run, median resume ${resumes[Math.floor(resumes.length / 2)] ?? 0} ms\n`,
);
process.exit(failed > 0 ? 1 : 0);
