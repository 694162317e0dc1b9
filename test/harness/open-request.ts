import { request as httpRequest } from 'node:http';

/**
 * Starts a JSON POST the test can abandon, as a client that goes away would. `firstData` resolves on
 * the first response body bytes (and rejects if the response ends without any); `leave()` destroys
 * the request and returns when it did (`performance.now()`).
 */
export function openRequest(url: string, body: unknown, headers: Record<string, string> = {}): { firstData: Promise<void>; leave(): number } {
  let onData: () => void = () => undefined;
  let onEmptyEnd: () => void = () => undefined;
  const firstData = new Promise<void>((resolve, reject) => {
    onData = resolve;
    onEmptyEnd = () => reject(new Error(`${url}: the response ended before any data`));
  });
  firstData.catch(() => undefined); // only the tests that await it care
  const req = httpRequest(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' } }, (res) => {
    res.on('data', onData);
    res.on('end', onEmptyEnd);
    res.on('error', () => undefined);
  });
  req.on('error', () => undefined);
  req.end(JSON.stringify(body));
  return {
    firstData,
    leave() {
      const at = performance.now();
      req.destroy();
      return at;
    },
  };
}
