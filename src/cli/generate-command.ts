import { Command, InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';
import { generatePopulation } from '../synthetic/index.js';

function parsePatients(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

/** `flatfhir generate --patients N --seed S --out DIR` */
export function generateCommand(): Command {
  return new Command('generate')
    .description(
      'Generate a deterministic synthetic US Core R4 population as one NDJSON file per resource type ' +
        '(same seed and patient count give byte-identical files)',
    )
    .option('-n, --patients <n>', 'number of patients', parsePatients, 100)
    .option('-s, --seed <seed>', 'seed (any text)', 'flatfhir')
    .requiredOption('-o, --out <dir>', 'output directory (created if missing; existing <Type>.ndjson files are overwritten)')
    .addHelpText(
      'after',
      '\nAbout 150-300 resources per patient on average (a few patients have far more), plus a shared pool of\n' +
        'Organization, Location and Practitioner resources, Provenance and the Binary resources behind\n' +
        'DocumentReference attachments. Import the result with `flatfhir import --tenant T DIR`.\n\n' +
        'Example:\n  flatfhir generate --patients 1000 --seed demo --out ./data/synthetic',
    )
    .action(async (opts: { patients: number; seed: string; out: string }) => {
      const bar =
        process.stderr.isTTY === true
          ? new cliProgress.SingleBar(
              { format: 'generate [{bar}] {percentage}% | {value}/{total} patients', stream: process.stderr },
              cliProgress.Presets.shades_classic,
            )
          : undefined;
      bar?.start(opts.patients, 0);
      const started = performance.now();
      let lastUpdate = 0;
      try {
        const { counts } = await generatePopulation({
          patients: opts.patients,
          seed: opts.seed,
          out: opts.out,
          onProgress: (done, total) => {
            const now = performance.now();
            if (done === total || now - lastUpdate > 100) {
              lastUpdate = now;
              bar?.update(done);
            }
          },
        });
        bar?.stop();
        const seconds = (performance.now() - started) / 1000;
        const out = process.stdout;
        let total = 0;
        for (const [type, count] of Object.entries(counts)) {
          total += count;
          out.write(`${type.padEnd(24)}${String(count).padStart(12)}\n`);
        }
        out.write(`${'total'.padEnd(24)}${String(total).padStart(12)}\n`);
        out.write(`${opts.patients} patients (seed ${JSON.stringify(opts.seed)}) written to ${opts.out} in ${seconds.toFixed(1)} s\n`);
      } finally {
        bar?.stop();
      }
    });
}
