export { createPopulation, type GenerateOptions, type GenerateResult, generatePopulation, generateResources, SYNTHETIC_TYPES } from './population.js';
export { type Emit, generatePatientResources, type PopulationContext, REFERENCE_DATE } from './patient.js';
export { hashSeed, Rng } from './random.js';
