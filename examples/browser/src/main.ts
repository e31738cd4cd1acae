// The page: stories260K from the server, LoRA steps on tfjs (wasm, or WebGPU where the browser has
// an adapter), the PEFT adapter as two downloads. `?backend=wasm|webgpu` forces a backend.
import { Llama2cTokenizer } from '@lora/data';
import { loadModelFromFiles } from '@lora/models';
import { type PeftModel, getPeftModel, loraConfig } from '@lora/peft';
import { type TrainBatch, train } from '@lora/train';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-webgpu';

const MODEL_URL = 'models/stories260K/';
const ROWS = 4;
const LENGTH = 64;

/** Training text: short sentences in the style of TinyStories, the data stories260K was trained on. */
const SENTENCES = [
  'Once upon a time, there was a little robot named Bolt. Bolt loved to fix broken toys.',
  'One day, Bolt found a red kite in the park. The kite had a big hole in it.',
  'Bolt said, "I can fix it!" He worked hard all day, and the kite could fly again.',
  'The children cheered and ran with the kite. Bolt was very happy.',
  'Once upon a time, there was a little robot named Bolt. Bolt liked to help his friends.',
  'His friend Mia had a toy car with no wheels. Bolt made new wheels out of buttons.',
  'Mia smiled and said, "Thank you, Bolt!" They played with the car until the sun went down.',
  'Bolt learned that helping friends is the best thing to do.',
];

interface PageResult {
  backend: string;
  losses: readonly number[];
  seconds: number;
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const log = (line: string): void => {
  $('log').textContent += `${line}\n`;
};
const setStatus = (status: string): void => {
  document.body.dataset.status = status;
};

async function bytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function selectBrowserBackend(wanted: string | null): Promise<string> {
  setWasmPaths(new URL('wasm/', location.href).href);
  const hasGpu = 'gpu' in navigator && (await (navigator as { gpu: { requestAdapter(): Promise<unknown> } }).gpu.requestAdapter()) !== null;
  const order = wanted === null ? (hasGpu ? ['webgpu', 'wasm'] : ['wasm']) : [wanted];
  for (const name of order) {
    if (await tf.setBackend(name).catch(() => false)) {
      await tf.ready();
      return name;
    }
  }
  throw new Error(`no tfjs backend of ${order.join(', ')} could start`);
}

/** The sentences as one token stream (BOS before each), cut into ROWS × LENGTH rows; every token is a label. */
function makeBatches(tokenizer: Llama2cTokenizer): TrainBatch[] {
  const stream = SENTENCES.flatMap((s) => tokenizer.encode(s, { addBos: true }));
  const perBatch = ROWS * LENGTH;
  const batches: TrainBatch[] = [];
  for (let start = 0; start + perBatch <= stream.length || batches.length === 0; start += perBatch) {
    const inputIds = new Int32Array(perBatch).map((_, i) => stream[(start + i) % stream.length] as number);
    batches.push({ inputIds, labels: inputIds.slice(), shape: [ROWS, LENGTH] });
  }
  return batches;
}

async function offerDownloads(peft: PeftModel): Promise<void> {
  const files = await peft.adapterFiles();
  const config = $<HTMLAnchorElement>('download-config');
  const weights = $<HTMLAnchorElement>('download-weights');
  config.href = URL.createObjectURL(new Blob([files['adapter_config.json']], { type: 'application/json' }));
  weights.href = URL.createObjectURL(new Blob([new Uint8Array(files['adapter_model.safetensors'])], { type: 'application/octet-stream' }));
  $('downloads').hidden = false;
}

async function main(): Promise<void> {
  const backend = await selectBrowserBackend(new URLSearchParams(location.search).get('backend'));
  $('backend').textContent = `backend: ${backend}`;
  const [checkpoint, tokenizerBytes] = await Promise.all([bytes(`${MODEL_URL}stories260K.bin`), bytes(`${MODEL_URL}tok512.bin`)]);
  const { model } = await loadModelFromFiles({ 'stories260K.bin': checkpoint }, { nameOrPath: 'stories260K' });
  const tokenizer = Llama2cTokenizer.fromBytes(tokenizerBytes, 'tok512.bin');
  const data = makeBatches(tokenizer);
  log(`stories260K loaded (${model.config.numHiddenLayers} layers); ${data.length} batch(es) of ${ROWS} × ${LENGTH} tokens`);
  const peft = getPeftModel(model, loraConfig({ r: 8, loraAlpha: 16, targetModules: 'all-linear', loraDropout: 0 }));
  const button = $<HTMLButtonElement>('train');
  button.disabled = false;
  setStatus('ready');
  button.addEventListener('click', async () => {
    button.disabled = true;
    setStatus('training');
    try {
      const started = performance.now();
      const maxSteps = Number($<HTMLInputElement>('steps').value);
      const result = await train({
        model: peft,
        data,
        args: { maxSteps, learningRate: 1e-2, lrScheduler: 'constant', seed: 1 },
        callbacks: { onStepEnd: (r) => void log(`step ${r.step}/${r.maxSteps}  loss ${r.loss.toFixed(4)}`) },
      });
      const seconds = (performance.now() - started) / 1000;
      log(`done in ${seconds.toFixed(1)} s: loss ${result.losses[0]?.toFixed(4)} → ${result.losses.at(-1)?.toFixed(4)}`);
      await offerDownloads(peft);
      const summary: PageResult = { backend, losses: result.losses, seconds };
      $('log').dataset.result = JSON.stringify(summary);
      setStatus('done');
    } catch (error) {
      log(`error: ${(error as Error).stack ?? error}`);
      setStatus('error');
    }
  });
}

main().catch((error: unknown) => {
  log(`error: ${(error as Error).stack ?? error}`);
  setStatus('error');
});
