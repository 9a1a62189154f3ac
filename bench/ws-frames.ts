/**
 * What `bufferutil` (ws's optional native masking) saves per agent frame: the gateway is the
 * WebSocket client, so it masks every `user_audio_chunk` it sends (50 a second per call). Each run
 * is a fresh process that sends chunks of 20 ms `pcm_16000` caller audio (a tone with noise) over
 * loopback to a ws server in the same process (which unmasks them: both costs are counted), with
 * and without `WS_NO_BUFFER_UTIL`, alternating, and prints CPU µs per frame.
 *
 * With `--compression`: what WebSocket compression (permessage-deflate) would cost, against a
 * server that accepts it, with the client offering it (`ws`'s default) and not (the gateway's).
 * With `--tls`: what TLS adds (`wss://`, as to the real service; a throwaway certificate made by
 * `openssl`), against plain `ws://`.
 *
 *   npx tsx bench/ws-frames.ts                  # 7 pairs of runs, ~30 s
 *   npx tsx bench/ws-frames.ts --compression    # 5 pairs, ~30 s
 *   npx tsx bench/ws-frames.ts --tls            # 7 pairs, ~1 min
 *   npx tsx bench/ws-frames.ts --child [--offer-deflate]   # one run (what the pairs start)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import WebSocket, { WebSocketServer } from 'ws';

const FRAMES = 100_000;
const PAIRS = 7;
/** Deflating costs far more per frame: fewer frames keep a run short. */
const COMPRESSION_FRAMES = 20_000;
const COMPRESSION_PAIRS = 5;

/** 50 messages as the gateway sends them for 20 ms of pcm_16000 (src/agent/agent-protocol.ts): a 440 Hz tone with noise, so compression sees audio, not zeros. */
function audioChunks(): string[] {
  const chunks: string[] = [];
  let seed = 12345;
  for (let k = 0; k < 50; k++) {
    const pcm = Buffer.alloc(640);
    for (let i = 0; i < 320; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const t = k * 320 + i;
      pcm.writeInt16LE(Math.round(3000 * Math.sin((2 * Math.PI * 440 * t) / 16000) + ((seed >> 8) % 2000) - 1000), i * 2);
    }
    chunks.push(JSON.stringify({ user_audio_chunk: pcm.toString('base64') }));
  }
  return chunks;
}

async function child(): Promise<void> {
  const offersDeflate = process.argv.includes('--offer-deflate');
  const isCompressionRun = offersDeflate || process.argv.includes('--no-offer-deflate');
  const frames = isCompressionRun ? COMPRESSION_FRAMES : FRAMES;
  const isPaced = process.argv.includes('--paced');
  const chunks = audioChunks();
  // A TLS run: the certificate the parent made (its folder in WS_FRAMES_TLS_DIR).
  const tlsDir = process.argv.includes('--tls') ? process.env['WS_FRAMES_TLS_DIR'] : undefined;
  const tls = tlsDir === undefined ? undefined : { key: readFileSync(path.join(tlsDir, 'key.pem')), cert: readFileSync(path.join(tlsDir, 'cert.pem')) };
  const https = tls === undefined ? undefined : createHttpsServer(tls);
  // In a compression run the server accepts permessage-deflate, as many servers do.
  const server = https === undefined ? new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: isCompressionRun }) : new WebSocketServer({ server: https, perMessageDeflate: false });
  if (https === undefined) await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  else await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', () => resolve()));
  const { port } = (https ?? server).address() as { port: number };
  const client = new WebSocket(`${tls === undefined ? 'ws' : 'wss'}://127.0.0.1:${port}`, { perMessageDeflate: offersDeflate, ...(tls === undefined ? {} : { ca: tls.cert }) });
  let wireBytes = 0;
  const received = new Promise<void>((resolve) => {
    let count = 0;
    server.on('connection', (socket, req) => {
      req.socket.on('data', (data: Buffer) => void (wireBytes += data.length));
      socket.on('message', () => void (++count === frames && resolve()));
    });
  });
  await new Promise<void>((resolve) => client.once('open', () => resolve()));
  if ((client.extensions !== '') !== offersDeflate) throw new Error(`compression negotiated: "${client.extensions}", offered: ${offersDeflate}`);
  const start = process.cpuUsage();
  for (let i = 0; i < frames; i++) {
    client.send(chunks[i % chunks.length]!);
    // Paced: one frame per turn of the event loop, as each call's frame leaves on its own (a TLS
    // socket would otherwise pack a burst of frames into a few records and system calls).
    if (isPaced || i % 1000 === 999) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  await received;
  const used = process.cpuUsage(start);
  client.terminate();
  server.close();
  https?.close();
  process.stdout.write(`${JSON.stringify({ usPerFrame: (used.user + used.system) / frames, wireBytesPerFrame: wireBytes / frames })}\n`);
}

function run(withBufferutil: boolean, childArgs: string[] = []): number {
  return runChild(withBufferutil, childArgs).usPerFrame;
}

function runChild(withBufferutil: boolean, childArgs: string[]): { usPerFrame: number; wireBytesPerFrame: number } {
  const env = { ...process.env };
  if (withBufferutil) delete env['WS_NO_BUFFER_UTIL'];
  else env['WS_NO_BUFFER_UTIL'] = '1';
  const out = spawnSync(process.execPath, [...process.execArgv, __filename, '--child', ...childArgs], { env, encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`child failed: ${out.stderr}`);
  return JSON.parse(out.stdout) as { usPerFrame: number; wireBytesPerFrame: number };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function compression(): void {
  const offered: number[] = [];
  const notOffered: number[] = [];
  const ratios: number[] = [];
  const bytes = { offered: 0, notOffered: 0 };
  run(true, ['--no-offer-deflate']); // warm-up, not counted
  for (let i = 0; i < COMPRESSION_PAIRS; i++) {
    const a = runChild(true, ['--offer-deflate']);
    const b = runChild(true, ['--no-offer-deflate']);
    offered.push(a.usPerFrame);
    notOffered.push(b.usPerFrame);
    ratios.push(a.usPerFrame / b.usPerFrame);
    bytes.offered = a.wireBytesPerFrame;
    bytes.notOffered = b.wireBytesPerFrame;
  }
  const f = (n: number): string => n.toFixed(1);
  process.stdout.write(
    [
      `ws ${COMPRESSION_FRAMES} frames of 20 ms pcm_16000 to a server that accepts permessage-deflate (send + receive, one process), CPU µs per frame, ${COMPRESSION_PAIRS} pairs alternating:`,
      `| the client | min | median | max |`,
      `|---|---|---|---|`,
      `| offers compression (ws's default) | ${f(Math.min(...offered))} | ${f(median(offered))} | ${f(Math.max(...offered))} |`,
      `| does not (the gateway) | ${f(Math.min(...notOffered))} | ${f(median(notOffered))} | ${f(Math.max(...notOffered))} |`,
      `| ratio, pair by pair | ${f(Math.min(...ratios))} | ${f(median(ratios))} | ${f(Math.max(...ratios))} |`,
      `bytes on the wire per frame: ${bytes.offered.toFixed(0)} compressed, ${bytes.notOffered.toFixed(0)} not`,
      '',
    ].join('\n'),
  );
}

/** wss:// against ws://, both with bufferutil and no compression. */
function tlsCost(): void {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ws-frames-tls-'));
  try {
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`openssl could not make a certificate: ${made.stderr}`);
    process.env['WS_FRAMES_TLS_DIR'] = dir;
    const wss: number[] = [];
    const plain: number[] = [];
    const ratios: number[] = [];
    run(true, ['--tls', '--paced']); // warm-up, not counted
    for (let i = 0; i < PAIRS; i++) {
      const a = run(true, ['--tls', '--paced']);
      const b = run(true, ['--paced']);
      wss.push(a);
      plain.push(b);
      ratios.push(a / b);
    }
    const f = (n: number): string => n.toFixed(2);
    process.stdout.write(
      [
        `ws ${FRAMES} frames of 20 ms pcm_16000, one per turn of the event loop (send + receive, one process: both ends' TLS), CPU µs per frame, ${PAIRS} pairs alternating:`,
        `| transport | min | median | max |`,
        `|---|---|---|---|`,
        `| wss:// (TLS) | ${f(Math.min(...wss))} | ${f(median(wss))} | ${f(Math.max(...wss))} |`,
        `| ws:// | ${f(Math.min(...plain))} | ${f(median(plain))} | ${f(Math.max(...plain))} |`,
        `| ratio, pair by pair | ${f(Math.min(...ratios))} | ${f(median(ratios))} | ${f(Math.max(...ratios))} |`,
        '',
      ].join('\n'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main(): void {
  if (process.argv.includes('--compression')) return compression();
  if (process.argv.includes('--tls')) return tlsCost();
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
