/**
 * What `bufferutil` (ws's optional native masking) saves per agent frame: the gateway is the
 * WebSocket client, so it masks every `user_audio_chunk` it sends (50 a second per call). Each run
 * is a fresh process that sends FRAMES chunks of 20 ms `pcm_16000` caller audio over loopback to a
 * ws server in the same process (which unmasks them: both costs are counted), with and without
 * `WS_NO_BUFFER_UTIL`, alternating, and prints CPU µs per frame.
 *
 *   npx tsx bench/ws-frames.ts            # 7 pairs of runs, ~30 s
 *   npx tsx bench/ws-frames.ts --child    # one run (what the pairs start)
 */
import { spawnSync } from 'node:child_process';
import WebSocket, { WebSocketServer } from 'ws';

const FRAMES = 100_000;
const PAIRS = 7;

async function child(): Promise<void> {
  // The message the gateway sends for 20 ms of pcm_16000 (src/agent/agent-protocol.ts encodeUserAudioChunk).
  const chunk = JSON.stringify({ user_audio_chunk: Buffer.alloc(640, 7).toString('base64') });
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as { port: number };
  const client = new WebSocket(`ws://127.0.0.1:${port}`);
  const received = new Promise<void>((resolve) => {
    let count = 0;
    server.on('connection', (socket) => socket.on('message', () => void (++count === FRAMES && resolve())));
  });
  await new Promise<void>((resolve) => client.once('open', () => resolve()));
  const start = process.cpuUsage();
  for (let i = 0; i < FRAMES; i++) {
    client.send(chunk);
    if (i % 1000 === 999) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  await received;
  const used = process.cpuUsage(start);
  client.terminate();
  server.close();
  process.stdout.write(`${JSON.stringify({ usPerFrame: (used.user + used.system) / FRAMES })}\n`);
}

function run(withBufferutil: boolean): number {
  const env = { ...process.env };
  if (withBufferutil) delete env['WS_NO_BUFFER_UTIL'];
  else env['WS_NO_BUFFER_UTIL'] = '1';
  const out = spawnSync(process.execPath, [...process.execArgv, __filename, '--child'], { env, encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`child failed: ${out.stderr}`);
  return (JSON.parse(out.stdout) as { usPerFrame: number }).usPerFrame;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function main(): void {
  let hasBufferutil = true;
  try {
    require.resolve('bufferutil');
  } catch {
    hasBufferutil = false;
  }
  if (!hasBufferutil) throw new Error('bufferutil is not installed (npm ci installs it: an optional dependency)');
  const withIt: number[] = [];
  const without: number[] = [];
  const ratios: number[] = [];
  run(true); // warm-up: disk caches, not counted
  for (let i = 0; i < PAIRS; i++) {
    const a = run(true);
    const b = run(false);
    withIt.push(a);
    without.push(b);
    ratios.push(a / b);
  }
  const f = (n: number): string => n.toFixed(2);
  process.stdout.write(
    [
      `ws ${FRAMES} frames of 20 ms pcm_16000 (send + receive, one process), CPU µs per frame, ${PAIRS} pairs alternating:`,
      `| ws masking | min | median | max |`,
      `|---|---|---|---|`,
      `| bufferutil | ${f(Math.min(...withIt))} | ${f(median(withIt))} | ${f(Math.max(...withIt))} |`,
      `| JavaScript (WS_NO_BUFFER_UTIL=1) | ${f(Math.min(...without))} | ${f(median(without))} | ${f(Math.max(...without))} |`,
      `| ratio, pair by pair | ${f(Math.min(...ratios))} | ${f(median(ratios))} | ${f(Math.max(...ratios))} |`,
      '',
    ].join('\n'),
  );
}

if (process.argv.includes('--child')) child().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
else main();
