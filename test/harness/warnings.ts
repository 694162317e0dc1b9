/**
 * The package's process warnings (`PortkeyContextWarning`) emitted while a test file runs: the
 * listener is added before the file's tests and removed after them.
 */
import { afterAll, beforeAll } from 'vitest';

export interface RecordedWarning {
  code?: string;
  message: string;
}

export function recordPortkeyWarnings(): RecordedWarning[] {
  const warnings: RecordedWarning[] = [];
  const onWarning = (warning: Error & { code?: string }) => {
    if (warning.name === 'PortkeyContextWarning') warnings.push({ code: warning.code, message: warning.message });
  };
  beforeAll(() => {
    process.on('warning', onWarning);
  });
  afterAll(() => {
    process.off('warning', onWarning);
  });
  return warnings;
}
