// Child processes of the browser tests: the echopilot node and the fakes,
// started from the source tree and stopped by their own PID.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * Spawns `cmd` in `cwd` and returns { child, ready }: `ready` resolves with
 * the first capture of `re` in the child's first stdout line, or rejects with
 * its stderr if it exits or prints nothing within 20 s.
 */
export function startChild(cwd, cmd, args, env, re, name) {
  const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start in 20 s; stderr: ${stderr}`)), 20000);
    child.on('exit', (code) => reject(new Error(`${name} exited (${code}); stderr: ${stderr}`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      const m = re.exec(line);
      if (!m) reject(new Error(`${name}: unexpected first line: ${line}`));
      else resolve(m[1]);
    });
  });
  return { child, ready };
}

/** SIGTERM, then SIGKILL after 15 s; resolves once the child has exited. */
export function stop(child) {
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const hard = setTimeout(() => child.kill('SIGKILL'), 15000);
    child.once('exit', () => { clearTimeout(hard); resolve(); });
    child.kill('SIGTERM');
  });
}
