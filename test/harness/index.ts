/**
 * The real-gateway test stack: recording proxy -> real Portkey gateway -> recording stub LLM.
 * Every piece binds to 127.0.0.1 on a free port; `close()` stops all three.
 */
import { type Gateway, startGateway } from './gateway.js';
import { type RecordedGatewayRequest, type RecordingProxy, startRecordingProxy } from './recording-proxy.js';
import { type StubLlm, startStubLlm } from './stub-llm.js';

export type { RecordedGatewayRequest } from './recording-proxy.js';
export type { RecordedUpstreamRequest, StubLlm, StubReply, StubScript } from './stub-llm.js';

export interface GatewayStack {
  /** Base URL an app uses as the Portkey `baseURL` (the recording proxy, `…/v1`). */
  baseURL: string;
  /** The gateway itself, without the proxy. */
  gatewayURL: string;
  /** Requests as they reached the gateway (through the proxy). */
  gatewayRequests: RecordedGatewayRequest[];
  /** The upstream LLM stub behind the gateway. */
  stub: StubLlm;
  /** Portkey options that route to the stub through the gateway: provider + custom host + auth. */
  providerOptions: { provider: string; customHost: string; authorization: string };
  reset(): void;
  close(): Promise<void>;
}

export async function startGatewayStack(): Promise<GatewayStack> {
  const [stub, gateway] = await Promise.all([startStubLlm(), startGateway()]);
  let proxy: RecordingProxy;
  try {
    proxy = await startRecordingProxy(gateway.url);
  } catch (err) {
    await Promise.all([stub.close(), gateway.close()]);
    throw err;
  }
  return {
    baseURL: `${proxy.url}/v1`,
    gatewayURL: gateway.url,
    gatewayRequests: proxy.requests,
    stub,
    providerOptions: { provider: 'openai', customHost: stub.baseURL, authorization: 'Bearer sk-stub-provider-key' },
    reset() {
      proxy.requests.length = 0;
      stub.reset();
    },
    async close() {
      await Promise.all([proxy.close(), stub.close(), (gateway as Gateway).close()]);
    },
  };
}
export { openRequest } from './open-request.js';
export { serveOnLoopback } from './serve.js';
export { waitUntil } from './wait.js';
