// Child process of train-signals.test.ts: `lora` from source, run the way bin.ts runs it.
// Usage: vite-node cli-child.ts <lora arguments…>
import { run } from '../program.js';

// vite-node's own listeners would end the process on SIGTERM/SIGINT; the real bin has none.
process.removeAllListeners('SIGTERM');
process.removeAllListeners('SIGINT');
const code = await run(process.argv);
await new Promise<void>((done) => process.stdout.write('', () => done()));
process.exit(code);
