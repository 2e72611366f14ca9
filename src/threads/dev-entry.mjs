// Worker-thread entry used when flatfhir runs from its TypeScript sources (npm run dev, tests, benchmarks):
// worker threads do not inherit tsx's loader, so register it here, then load the real entry (argv[2]).
import process from 'node:process';
import { register } from 'tsx/esm/api';

register();
await import(process.argv[2]);
