import { describe, expect, it } from 'vitest';
import { createPortkeyHeaders, PortkeyContextError, type PortkeyOptions } from 'portkey-context';

describe('createPortkeyHeaders', () => {
  it('maps every documented option to its exact header', () => {
    const options: Required<Omit<PortkeyOptions, 'baseURL'>> = {
      apiKey: 'pk-test',
      virtualKey: 'vk-1',
      config: 'pc-config-1',
      provider: 'openai',
      authorization: 'Bearer sk-provider',
      customHost: 'http://127.0.0.1:9/v1',
      traceId: 'trace-1',
      metadata: { _user: 'u1' },
      cacheForceRefresh: true,
      cacheNamespace: 'ns',
      forwardHeaders: ['x-custom', 'x-other'],
      azureResourceName: 'res',
      azureDeploymentId: 'dep',
      azureApiVersion: '2024-06-01',
      azureModelName: 'gpt-4o',
      vertexProjectId: 'proj',
      vertexRegion: 'us-central1',
      awsAccessKeyId: 'AKIA',
      awsSecretAccessKey: 'secret',
      awsRegion: 'eu-west-1',
      awsSessionToken: 'token',
      spanId: 'span-1',
      parentSpanId: 'span-0',
      spanName: 'ChatPortkey',
    };
    expect(createPortkeyHeaders({ ...options, baseURL: 'http://ignored/v1' })).toEqual({
      'x-portkey-api-key': 'pk-test',
      'x-portkey-virtual-key': 'vk-1',
      'x-portkey-config': 'pc-config-1',
      'x-portkey-provider': 'openai',
      Authorization: 'Bearer sk-provider',
      'x-portkey-custom-host': 'http://127.0.0.1:9/v1',
      'x-portkey-trace-id': 'trace-1',
      'x-portkey-metadata': '{"_user":"u1"}',
      'x-portkey-cache-force-refresh': 'true',
      'x-portkey-cache-namespace': 'ns',
      'x-portkey-forward-headers': 'x-custom,x-other',
      'x-portkey-azure-resource-name': 'res',
      'x-portkey-azure-deployment-id': 'dep',
      'x-portkey-azure-api-version': '2024-06-01',
      'x-portkey-azure-model-name': 'gpt-4o',
      'x-portkey-vertex-project-id': 'proj',
      'x-portkey-vertex-region': 'us-central1',
      'x-portkey-aws-access-key-id': 'AKIA',
      'x-portkey-aws-secret-access-key': 'secret',
      'x-portkey-aws-region': 'eu-west-1',
      'x-portkey-aws-session-token': 'token',
      'x-portkey-span-id': 'span-1',
      'x-portkey-parent-span-id': 'span-0',
      'x-portkey-span-name': 'ChatPortkey',
    });
  });

  it('sends config objects and metadata as JSON with non-ASCII escaped', () => {
    const headers = createPortkeyHeaders({
      config: { provider: 'openai', retry: { attempts: 2 }, note: 'café ☕' },
      metadata: { _user: 'Zoë', team: '東京', n: 3, ok: true },
    });
    expect(headers['x-portkey-config']).toBe('{"provider":"openai","retry":{"attempts":2},"note":"caf\\u00e9 \\u2615"}');
    expect(headers['x-portkey-metadata']).toBe('{"_user":"Zo\\u00eb","team":"\\u6771\\u4eac","n":"3","ok":"true"}');
    expect(JSON.parse(headers['x-portkey-metadata']!)).toEqual({ _user: 'Zoë', team: '東京', n: '3', ok: 'true' });
    for (const value of Object.values(headers)) expect(value).toMatch(/^[\x20-\x7e]*$/);
    // what fetch accepts is what the gateway gets
    expect(() => new Headers(headers)).not.toThrow();
  });

  it('leaves out empty values and keeps false', () => {
    expect(
      createPortkeyHeaders({ apiKey: '', virtualKey: undefined, config: '', metadata: {}, forwardHeaders: [], cacheForceRefresh: false }),
    ).toEqual({ 'x-portkey-cache-force-refresh': 'false' });
  });

  it.each([
    ['CR/LF', 'abc\r\nx-portkey-api-key: stolen'],
    ['LF', 'abc\nx'],
    ['NUL', 'abc\u0000'],
    ['non-ASCII', 'café'],
  ])('refuses a value with %s, naming the option but not a secret value', (_, bad) => {
    const err = (() => {
      try {
        createPortkeyHeaders({ apiKey: bad });
      } catch (e) {
        return e;
      }
    })() as PortkeyContextError;
    expect(err).toBeInstanceOf(PortkeyContextError);
    expect(err.code).toBe('INVALID_HEADER_VALUE');
    expect(err.message).toContain('"apiKey"');
    expect(err.message).not.toContain('abc');
    expect(() => createPortkeyHeaders({ traceId: bad })).toThrow(/"traceId"/);
  });

  it('neutralises CR/LF inside metadata and config values (JSON escapes them)', () => {
    const headers = createPortkeyHeaders({ metadata: { note: 'a\r\nx-evil: 1' }, config: { note: 'b\r\n' } });
    expect(headers['x-portkey-metadata']).toBe('{"note":"ax-evil: 1"}');
    expect(headers['x-portkey-config']).toBe('{"note":"b\\r\\n"}');
    expect(() => new Headers(headers)).not.toThrow();
  });

  it('refuses non-string option values with a clear error', () => {
    expect(() => createPortkeyHeaders({ provider: 42 as never })).toThrow(/"provider" must be a string/);
  });
});
