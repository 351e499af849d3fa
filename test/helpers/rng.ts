// Seeded randomness for tests: the same seed gives the same data everywhere.
// The generators are the ones synthetic models are written with.
export { mulberry32, gaussianArray as gaussian } from '../../formats/synthetic/random.js';
