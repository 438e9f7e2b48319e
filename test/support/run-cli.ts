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
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const code = await runCli(args, { stdout, stderr, env, now: () => now, interactive: false });
  return { code, stdout: out, stderr: err };
}
