import { AirlockError, ERROR_CODES, EXIT, type ExitCode } from '../core/errors.js';

/** Process exit codes, documented in the README; they live beside the error table, which names one per code. */
export { EXIT };

/** The one place an error becomes a process exit code. */
export function exitCodeOf(err: unknown): ExitCode {
  return err instanceof AirlockError ? ERROR_CODES[err.code].exit : EXIT.UNAVAILABLE;
}

/** Startup failures (`serve`, `stdio`) always exit 1, whatever their cause, so service managers see one code. */
export class StartupError extends AirlockError {}
