// Runs the CLI in-process with captured output, the way the CLI tests drive it.
import { PassThrough } from 'node:stream';
import { runCli } from '../../src/cli.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCliCaptured(args: string[], env: Record<string, string>, now: Date = new Date()): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  // Bytes, decoded once at the end: a COPY export's chunks may split a character.
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (d: Buffer) => out.push(d));
  stderr.on('data', (d: Buffer) => err.push(d));
  const code = await runCli(args, { stdout, stderr, env, now: () => now, interactive: false });
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}
