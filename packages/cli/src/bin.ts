#!/usr/bin/env node
import { run } from './program.js';

const code = await run(process.argv);
// A WebGPU device (Dawn) keeps the event loop alive: leave explicitly once stdout is flushed.
await new Promise<void>((done) => process.stdout.write('', () => done()));
process.exit(code);
